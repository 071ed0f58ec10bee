"""Model family adapters, chosen from a checkpoint's `config.model_type`.

Every family is the generic adapter (generic.py) or a thin subclass of it for what the checkpoint
cannot say. Adding a family is one file here and one line in FAMILIES (a registry.Registry).
"""

from __future__ import annotations

from ...errors import InputError
from ...registry import Registry
from .base import Adapter, MediaOptions, Prepared
from .generic import GenericAdapter, auto_model_class

# model_type -> "module:class"; model types not listed take the generic adapter when a transformers auto class
# loads them.
_HERE = __name__
FAMILIES: Registry[type[GenericAdapter]] = Registry(
    "model family",
    {
        "qwen2_vl": f"{_HERE}.qwen2_vl:Qwen2VLAdapter",
        "qwen2_5_vl": f"{_HERE}.qwen2_vl:Qwen2VLAdapter",
        "qwen3_vl": f"{_HERE}.qwen2_vl:Qwen3VLAdapter",
        "qwen2_audio": f"{_HERE}.qwen2_audio:Qwen2AudioAdapter",
        "llava": f"{_HERE}.llava:LlavaAdapter",
        "qwen2_5_omni": f"{_HERE}.qwen_omni:QwenOmniAdapter",
        "qwen2_5_omni_thinker": f"{_HERE}.qwen_omni:QwenOmniAdapter",
        "qwen3_omni_moe": f"{_HERE}.qwen_omni:Qwen3OmniAdapter",
        "qwen3_omni_moe_thinker": f"{_HERE}.qwen_omni:Qwen3OmniAdapter",
        "llava_onevision": f"{_HERE}.llava_video:LlavaVideoAdapter",
        "llava_next_video": f"{_HERE}.llava_video:LlavaVideoAdapter",
        "internvl": f"{_HERE}.internvl:InternVLAdapter",
        "gemma3n": f"{_HERE}.gemma3n:Gemma3nAdapter",
        "voxtral": f"{_HERE}.voxtral:VoxtralAdapter",
        "phi4_multimodal": f"{_HERE}.phi4_multimodal:Phi4MultimodalAdapter",
        "smolvlm": f"{_HERE}.smolvlm:SmolVLMAdapter",
    },
)


def adapter_class(model_type: str, remote_code: bool = False) -> type[GenericAdapter]:
    """The adapter for a model_type; an architecture nothing here loads is an InputError listing the families
    (with `remote_code`, a checkpoint's own code may load it: the generic adapter)."""
    if model_type in FAMILIES:
        return FAMILIES.get(model_type)
    if remote_code or auto_model_class(model_type) is not None:
        return GenericAdapter
    raise InputError(
        f"model_type {model_type!r} is not a supported architecture: supported families are "
        f"{', '.join(sorted(FAMILIES))}, and any image/audio-text-to-text model transformers' auto classes load"
    )


__all__ = ["FAMILIES", "Adapter", "GenericAdapter", "MediaOptions", "Prepared", "adapter_class"]
