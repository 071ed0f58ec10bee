"""Qwen2-VL and Qwen2.5-VL: images and videos, multimodal rotary positions (M-RoPE).

Videos are sampled and resized by media_loading (qwen-vl-utils semantics) and handed to the
processor as frames with their sampling metadata (Qwen2.5-VL derives seconds-per-grid from it).
Positions are computed by the model from `mm_token_type_ids` and the grids, which stay in the
inputs when an encoder output is injected.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Media
from ..media_loading import load_image, load_video
from .image_text import ImageTextAdapter


class Qwen2VLAdapter(ImageTextAdapter):
    modalities: ClassVar[frozenset[str]] = frozenset({"image", "video"})
    positions_from_mask = False

    @classmethod
    def model_class(cls) -> type:
        from transformers import Qwen2VLForConditionalGeneration

        return Qwen2VLForConditionalGeneration

    def placeholder_ids(self) -> dict[str, int]:
        return {"image": self.model.config.image_token_id, "video": self.model.config.video_token_id}

    def load_media(self, media: Media) -> tuple[str, Any]:
        if media.kind == "video":
            o = self.options
            return "videos", load_video(media.path, fps=o.fps, max_pixels=o.max_pixels, min_pixels=o.min_pixels)
        return "images", load_image(media.path)

    def processor_media(self, media: dict[str, list]) -> dict[str, Any]:
        kwargs = dict(media)
        videos = kwargs.pop("videos", None)
        if videos:
            kwargs.update(
                videos=[v.frames for v in videos],
                video_metadata=[v.metadata() for v in videos],
                do_sample_frames=False,
                cap_pixels_per_frame=False,
            )  # sampled and capped already
        return kwargs


class Qwen25VLAdapter(Qwen2VLAdapter):
    @classmethod
    def model_class(cls) -> type:
        from transformers import Qwen2_5_VLForConditionalGeneration

        return Qwen2_5_VLForConditionalGeneration
