"""Model family adapters, chosen from a checkpoint's `config.model_type`."""

from __future__ import annotations

from .base import Adapter, MediaOptions, Prepared


def adapter_class(model_type: str) -> type[Adapter]:
    """The adapter for a model_type; anything unknown gets the generic image-text-to-text adapter."""
    from .image_text import ImageTextAdapter
    from .llava import LlavaAdapter
    from .qwen2_audio import Qwen2AudioAdapter
    from .qwen2_vl import Qwen2VLAdapter, Qwen25VLAdapter

    families: dict[str, type[Adapter]] = {
        "qwen2_vl": Qwen2VLAdapter,
        "qwen2_5_vl": Qwen25VLAdapter,
        "qwen2_audio": Qwen2AudioAdapter,
        "llava": LlavaAdapter,
    }
    return families.get(model_type, ImageTextAdapter)


__all__ = ["Adapter", "MediaOptions", "Prepared", "adapter_class"]
