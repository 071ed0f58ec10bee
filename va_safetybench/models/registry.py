"""`BACKEND:NAME` + model args -> a ModelBackend. Backends import their heavy libraries lazily."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, MissingExtra
from ..registry import Registry
from .base import ModelBackend


@dataclass(frozen=True)
class Backend:
    """A backend: its factory ("module:attr", imported only when asked for: openai and vllm are optional) and which
    of its options change what the model answers. Those go into the response cache key; the others only change
    where or how fast it runs, so a resumed run with another batch size or timeout finds its responses. Every
    option of the factory is in exactly one of the two sets (tests/test_registry.py checks)."""

    factory: str
    answers: frozenset[str]
    neutral: frozenset[str]

    def load(self) -> Callable[..., ModelBackend]:
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)


BACKENDS: Registry[Backend] = Registry(
    "backend",
    {
        "hf": Backend(
            "va_safetybench.models.hf:HFBackend",
            answers=frozenset(
                {
                    "dtype",
                    "attn_implementation",
                    "max_pixels",
                    "min_pixels",
                    "fps",
                    "trust_remote_code",
                    "audio_in_video",
                }
            ),
            neutral=frozenset({"device", "device_map", "batch_size"}),
        ),
        "tiny": Backend(
            "va_safetybench.models.tiny:tiny_backend",
            answers=frozenset({"seed", "max_pixels", "min_pixels", "fps", "shape"}),
            neutral=frozenset({"batch_size", "device"}),
        ),
        "openai": Backend(
            "va_safetybench.models.openai_backend:OpenAIBackend",
            answers=frozenset({"base_url", "video_frames"}),
            neutral=frozenset(
                {
                    "api_key_env",
                    "concurrency",
                    "max_retries",
                    "timeout",
                    "max_reply_bytes",
                    "retry_base",
                    "retry_cap",
                    "max_tokens_param",
                }
            ),
        ),
        "vllm": Backend(
            "va_safetybench.models.vllm_backend:VLLMBackend",
            answers=frozenset(
                {"max_model_len", "limit_mm_per_prompt", "dtype", "video_fps", "trust_remote_code", "seed"}
            ),
            neutral=frozenset(
                {
                    "tensor_parallel_size",
                    "data_parallel_size",
                    "gpu_memory_utilization",
                    "pipeline_parallel_size",
                    "distributed_executor_backend",
                    "enforce_eager",
                    "max_in_flight",
                }
            ),
        ),
    },
)


@dataclass(frozen=True)
class ModelSpec:
    """A model named `BACKEND:NAME` ('hf:Qwen/Qwen2-VL-7B-Instruct', 'tiny:llava', 'openai:gpt-4o'), parsed once
    where the text comes in (the command line; lm-eval's model_args for our model class) and checked then: the
    backend registered and, for tiny:, the tiny model. str() gives the text back."""

    backend: str
    name: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.name}"

    @classmethod
    def parse(cls, text: str, what: str = "model") -> ModelSpec:
        """The spec `text` names; InputError starting with `what` (e.g. '--model') and the text otherwise."""
        backend, sep, name = text.partition(":")
        if not sep or not name:
            raise InputError(f"{what} {text!r}: expected BACKEND:NAME with BACKEND one of {', '.join(BACKENDS)}")
        if backend not in BACKENDS:
            raise InputError(f"{what} {text!r}: {BACKENDS.unknown(backend)}")
        if backend == "tiny":
            from .tiny import TINY_MODELS

            if name not in TINY_MODELS:
                raise InputError(f"{what} {text!r}: {TINY_MODELS.unknown(name, [f'tiny:{n}' for n in TINY_MODELS])}")
        return cls(backend, name)

    @classmethod
    def of(cls, spec: ModelSpec | str) -> ModelSpec:
        """`spec` as a ModelSpec: library callers (scripts, tests) may still name a model by its text."""
        return spec if isinstance(spec, ModelSpec) else cls.parse(spec)


def answer_options(spec: ModelSpec, model_args: dict[str, Any]) -> dict[str, Any]:
    """The model args of `spec` that change its answers (an option a backend does not declare counts as one)."""
    neutral = BACKENDS.get(spec.backend).neutral
    return {k: v for k, v in model_args.items() if k not in neutral}


def make_backend(spec: ModelSpec | str, model_args: dict[str, Any] | None = None) -> ModelBackend:
    """Build the backend named by `spec` ('hf:Qwen/Qwen2-VL-7B-Instruct', 'tiny:llava', ...)."""
    spec = ModelSpec.of(spec)
    try:
        make = BACKENDS.get(spec.backend).load()
    except ModuleNotFoundError as exc:
        raise MissingExtra(f"backend {spec.backend!r} is unavailable: {exc} (install its extra)") from exc
    try:
        inspect.signature(make).bind(spec.name, **(model_args or {}))
    except TypeError as exc:
        raise InputError(f"bad --model-args for {spec}: {exc}") from exc
    from .checkpoints import refusing_pickled_code

    with refusing_pickled_code(f"--model {spec}"):
        return make(spec.name, **(model_args or {}))


def declared_modalities(spec: ModelSpec | str, model_args: dict[str, Any] | None = None) -> frozenset[str] | None:
    """What the model named by `spec` takes, known without loading weights (hf, vllm: its config and processor;
    tiny: its family), or None where only the loaded backend can say (openai)."""
    spec = ModelSpec.of(spec)
    backend, name = spec.backend, spec.name
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
