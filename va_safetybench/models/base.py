"""The interface every model backend implements, independent of lm-eval.

The lm-eval model classes (lm_eval_models.py) adapt lm-eval requests to `GenerationRequest`s;
backends never see lm-eval types, so they can be used and tested on their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

MediaKind = Literal["image", "video", "audio"]


@dataclass(frozen=True)
class Media:
    kind: MediaKind
    path: Path


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt. `prompt` is None when the media carry the whole question (VA Audio-only)."""

    prompt: str | None
    media: tuple[Media, ...] = ()


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 300  # the paper's setting
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    def cache_fields(self) -> dict:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class GenerationError:
    """A request that failed (unreadable media, API error). Counted as an error, never as safe."""

    message: str


GenerationResult = str | GenerationError


@dataclass
class ModelInfo:
    backend: str  # "hf" | "vllm" | "openai" | "tiny"
    name: str
    modalities: frozenset[MediaKind] = field(default_factory=frozenset)
    random_weights: bool = False
    metadata: dict = field(default_factory=dict)  # e.g. {"alignment": {"method": "SEA-DPO", ...}}


class ModelBackend(ABC):
    info: ModelInfo

    @abstractmethod
    def generate(self, requests: list[GenerationRequest], settings: GenerationSettings) -> list[GenerationResult]:
        """One result per request, in order. Must not raise for a single bad request."""

    def close(self) -> None:
        """Release engines, pools and GPU memory."""
