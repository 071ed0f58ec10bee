"""Model family adapters, chosen from a checkpoint's `config.model_type`.

Every family is the generic adapter (generic.py) or a thin subclass of it for what the checkpoint
cannot say. Adding a family is one file here and one line in FAMILIES.
"""

from __future__ import annotations

import importlib

from ...errors import InputError
from .base import Adapter, MediaOptions, Prepared
from .generic import GenericAdapter, auto_model_class

# model_type -> "module:class" in this package; model types not listed take the generic adapter when a
# transformers auto class loads them.
FAMILIES: dict[str, str] = {
    "qwen2_vl": "qwen2_vl:Qwen2VLAdapter",
    "qwen2_5_vl": "qwen2_vl:Qwen2VLAdapter",
    "qwen3_vl": "qwen2_vl:Qwen3VLAdapter",
    "qwen2_audio": "qwen2_audio:Qwen2AudioAdapter",
    "llava": "llava:LlavaAdapter",
    "qwen2_5_omni": "qwen_omni:QwenOmniAdapter",
    "qwen2_5_omni_thinker": "qwen_omni:QwenOmniAdapter",
    "qwen3_omni_moe": "qwen_omni:Qwen3OmniAdapter",
    "qwen3_omni_moe_thinker": "qwen_omni:Qwen3OmniAdapter",
    "llava_onevision": "llava_video:LlavaVideoAdapter",
    "llava_next_video": "llava_video:LlavaVideoAdapter",
    "internvl": "internvl:InternVLAdapter",
    "gemma3n": "gemma3n:Gemma3nAdapter",
    "voxtral": "voxtral:VoxtralAdapter",
    "phi4_multimodal": "phi4_multimodal:Phi4MultimodalAdapter",
    "smolvlm": "smolvlm:SmolVLMAdapter",
}


def adapter_class(model_type: str, remote_code: bool = False) -> type[GenericAdapter]:
    """The adapter for a model_type; an architecture nothing here loads is an InputError listing the families
    (with `remote_code`, a checkpoint's own code may load it: the generic adapter)."""
    if model_type in FAMILIES:
        module, name = FAMILIES[model_type].split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    if remote_code or auto_model_class(model_type) is not None:
        return GenericAdapter
    raise InputError(
        f"model_type {model_type!r} is not a supported architecture: supported families are "
        f"{', '.join(sorted(FAMILIES))}, and any image/audio-text-to-text model transformers' auto classes load"
    )


__all__ = ["FAMILIES", "Adapter", "GenericAdapter", "MediaOptions", "Prepared", "adapter_class"]
