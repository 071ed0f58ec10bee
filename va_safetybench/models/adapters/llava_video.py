"""LLaVA-OneVision and LLaVA-NeXT-Video: the generic path with each family's official frame count.

Both evaluate videos as a fixed number of frames spread over the clip (32 in their reference video
evaluation, lmms-eval's `max_frames_num`), not at a frame rate. For SEA, their forwards take a video's pooled
encoder output as one tensor.
"""

from __future__ import annotations

from typing import ClassVar

from .generic import GenericAdapter


class LlavaVideoAdapter(GenericAdapter):
    video_frames: ClassVar[int | None] = 32
    pooled_as_tensor: ClassVar[frozenset[str]] = frozenset({"video"})
