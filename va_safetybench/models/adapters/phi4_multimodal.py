"""Phi-4-multimodal: its processor names the audio part `audio_processor`, not `feature_extractor`, so the
generic path is told where audio goes and at which rate; images and the rest are generic."""

from __future__ import annotations

from typing import Any

from ..base import MediaKind
from .generic import GenericAdapter, placeholder_token_id


class Phi4MultimodalAdapter(GenericAdapter):
    @classmethod
    def checkpoint_modalities(cls, config: Any, processor: Any) -> frozenset[MediaKind]:
        found: set[MediaKind] = set(super().checkpoint_modalities(config, processor))
        if getattr(processor, "audio_processor", None) is not None and placeholder_token_id(processor, "audio"):
            found.add("audio")
        return frozenset(found)

    @classmethod
    def audio_rate(cls, processor: Any) -> int | None:
        rate = getattr(getattr(processor, "audio_processor", None), "sampling_rate", None)
        return int(rate) if rate else None
