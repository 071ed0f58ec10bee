"""InternVL (transformers' `internvl`, the -hf checkpoints): a video is handed to the model as its frames,
each expanded by the processor into image tiles of <IMG_CONTEXT> tokens, so both modalities share the image
placeholder; 8 frames per video as in the checkpoints' reference usage.

SEA: a medium's encoder output is every tile's rows (a blank image is one tile, a blank video 8 frames of tiles), all
at <IMG_CONTEXT> tokens; the model's forward takes them as one tensor."""

from __future__ import annotations

from typing import ClassVar

from .generic import GenericAdapter


class InternVLAdapter(GenericAdapter):
    video_frames: ClassVar[int | None] = 8
    pooled_as_tensor: ClassVar[frozenset[str]] = frozenset({"image"})

    def placeholder_ids(self) -> dict[str, int]:
        return {"image": self.processor.image_token_id}  # video frames become <IMG_CONTEXT> image tiles
