"""`BACKEND:NAME` + model args -> a ModelBackend. Backends import their heavy libraries lazily."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..errors import InputError, MissingExtra
from ..registry import Registry
from .base import ModelBackend

# backend prefix -> its factory, imported only when asked for (openai and vllm are optional)
BACKENDS: Registry[Callable[..., ModelBackend]] = Registry(
    "backend",
    {
        "hf": "va_safetybench.models.hf:HFBackend",
        "tiny": "va_safetybench.models.tiny:tiny_backend",
        "openai": "va_safetybench.models.openai_backend:OpenAIBackend",
        "vllm": "va_safetybench.models.vllm_backend:VLLMBackend",
    },
)


def parse_spec(spec: str) -> tuple[str, str]:
    """'hf:Qwen/Qwen2-VL-7B-Instruct' -> ('hf', 'Qwen/Qwen2-VL-7B-Instruct'), the backend registered and, for
    tiny:, the tiny model; InputError naming the spec otherwise (the one check of a model spec)."""
    backend, sep, name = spec.partition(":")
    if not sep or not name:
        raise InputError(f"model {spec!r}: expected BACKEND:NAME with BACKEND one of {', '.join(BACKENDS)}")
    if backend not in BACKENDS:
        raise InputError(f"model {spec!r}: {BACKENDS.unknown(backend)}")
    if backend == "tiny":
        from .tiny import TINY_MODELS

        if name not in TINY_MODELS:
            raise InputError(f"model {spec!r}: {TINY_MODELS.unknown(name)}")
    return backend, name


def make_backend(spec: str, model_args: dict[str, Any] | None = None) -> ModelBackend:
    """Build the backend named by `spec` ('hf:Qwen/Qwen2-VL-7B-Instruct', 'tiny:llava', ...)."""
    backend, name = parse_spec(spec)
    try:
        make = BACKENDS.get(backend)
    except ModuleNotFoundError as exc:
        raise MissingExtra(f"backend {backend!r} is unavailable: {exc} (install its extra)") from exc
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

        return TINY_MODELS.get(name).modalities if name in TINY_MODELS else None
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
