"""Qwen2-VL and Qwen2.5-VL: images and videos, multimodal rotary positions (M-RoPE).

Videos are sampled and resized by media_loading (qwen-vl-utils semantics) and handed to the
processor as frames with their sampling metadata (Qwen2.5-VL derives seconds-per-grid from it),
already capped per frame. Positions are computed by the model from `mm_token_type_ids` and the
grids, which stay in the inputs when an encoder output is injected.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .deepstack import DeepStackAdapter
from .generic import GenericAdapter


class Qwen2VLAdapter(GenericAdapter):
    video_kwargs: ClassVar[dict[str, Any]] = {"cap_pixels_per_frame": False}  # capped by media_loading


class Qwen3VLAdapter(DeepStackAdapter, Qwen2VLAdapter):
    """Qwen3-VL writes each frame's timestamp into the prompt from the video metadata (vLLM needs it too); its
    vision encoder feeds DeepStack layers (deepstack.py)."""

    vllm_video_metadata: ClassVar[bool] = True
