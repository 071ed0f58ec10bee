"""`BACKEND:NAME` + model args -> a ModelBackend. Backends import their heavy libraries lazily."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from ..errors import InputError, MissingExtra
from .base import ModelBackend

# backend prefix -> (module, factory); openai/vllm are optional and imported only when asked for.
BACKENDS: dict[str, tuple[str, str]] = {
    "hf": ("va_safetybench.models.hf", "HFBackend"),
    "tiny": ("va_safetybench.models.tiny", "tiny_backend"),
    "openai": ("va_safetybench.models.openai_backend", "OpenAIBackend"),
    "vllm": ("va_safetybench.models.vllm_backend", "VLLMBackend"),
}


def make_backend(spec: str, model_args: dict[str, Any] | None = None) -> ModelBackend:
    """Build the backend named by `spec` ('hf:Qwen/Qwen2-VL-7B-Instruct', 'tiny:llava', ...)."""
    backend, sep, name = spec.partition(":")
    if not sep or not name or backend not in BACKENDS:
        raise InputError(f"unknown model {spec!r}: expected BACKEND:NAME with BACKEND one of {', '.join(BACKENDS)}")
    if backend == "tiny":
        from .tiny import TINY_MODELS

        if name not in TINY_MODELS:
            raise InputError(f"unknown tiny model {name!r}; valid names: {', '.join(TINY_MODELS)}")
    module_name, factory = BACKENDS[backend]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise MissingExtra(f"backend {backend!r} is unavailable: {exc} (install its extra)") from exc
    make = getattr(module, factory)
    try:
        inspect.signature(make).bind(name, **(model_args or {}))
    except TypeError as exc:
        raise InputError(f"bad --model-args for {spec}: {exc}") from exc
    from .checkpoints import refusing_pickled_code

    with refusing_pickled_code(f"--model {spec}"):
        return make(name, **(model_args or {}))


def declared_modalities(spec: str, model_args: dict[str, Any] | None = None) -> frozenset[str] | None:
    """What the model named by `spec` takes, known without loading weights (hf, vllm: its config and processor;
    tiny: its family), or None where only the loaded backend can say (openai)."""
    backend, _, name = spec.partition(":")
    if backend == "hf":
        from .hf import checkpoint_modalities

        return checkpoint_modalities(name, bool((model_args or {}).get("trust_remote_code", False)))
    if backend == "vllm":  # the checkpoint's processor says, before the engine starts
        from .vllm_backend import family_of, load_processor

        trust = str((model_args or {}).get("trust_remote_code", False)).lower() in ("1", "true", "yes")
        try:
            return family_of(name).checkpoint_modalities(None, load_processor(name, trust))
        except (OSError, ValueError):  # not a readable checkpoint: the backend reports it
            return None
    if backend == "tiny":
        from .tiny import TINY_MODELS

        return TINY_MODELS[name].modalities if name in TINY_MODELS else None
    return None


def _typed(value: str) -> Any:
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def parse_model_args(text: str | None, option: str = "--model-args") -> dict[str, Any]:
    """'dtype=bfloat16,batch_size=8,max_pixels=151200' -> typed dict (int, float, bool, None, str); the
    same k=v,.. shape serves --judge-args (`option` names the flag in errors)."""
    args: dict[str, Any] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InputError(f"bad {option} entry {part!r}: expected key=value")
        args[key.strip()] = _typed(value.strip())
    return args
