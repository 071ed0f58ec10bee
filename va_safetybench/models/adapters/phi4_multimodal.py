"""Phi-4-multimodal: its processor names the audio part `audio_processor`, not `feature_extractor`, so the
generic path is told where audio goes and at which rate; images and the rest are generic.

SEA: the model has no `get_<modality>_features` and no `mm_encoder_outputs`; one module, `embed_tokens_extend`,
runs both encoders and writes their projected rows over the <|image|> and <|audio|> token embeddings (the audio
projection depends on whether the batch holds images, as the model decides). The encoder output of a medium is
therefore the rows that module writes at its placeholders, and an injection makes the module write the given rows
instead for the duration of the call (`encoder_swap`), so the forward and generate run unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from ..base import MediaKind
from .generic import GenericAdapter, placeholder_token_id

RAW_INPUTS = ("image_pixel_values", "audio_input_features")  # what the encoders read; sizes and masks may stay


class Phi4MultimodalAdapter(GenericAdapter):
    # a causal LM with the encoders inside model.embed_tokens_extend: the language model is the rest of model.*
    language_model_pattern: ClassVar[str] = r"model\.(?:embed_tokens|layers|norm)\."

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

    @property
    def _merger(self) -> Any:
        return self.model.model.embed_tokens_extend

    def _placeholders(self, ids: Any) -> Any:
        import torch

        return torch.isin(ids, torch.tensor(list(self.placeholder_ids().values()), device=ids.device))

    def modality_features(self, modality: str, inputs: Any) -> Any:
        ids = inputs["input_ids"]
        params = inspect.signature(self._merger.forward).parameters
        media = {k: v for k, v in inputs.items() if k in params and k != "input_ids"}
        merged = self._merger(ids, self.model.get_input_embeddings()(ids), **media)
        return merged[ids == self.placeholder_ids()[modality]]

    def raw_input_keys(self, modality: str, inputs: Any) -> set[str]:
        return {k for k in RAW_INPUTS if k.startswith(modality) and k in inputs}

    def inject(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        self._modality_rows(inputs, media_embeds)  # checks the count
        kw = dict(inputs)
        for modality in self._present(inputs):
            for key in self.raw_input_keys(modality, inputs):
                kw.pop(key)
        return kw

    @contextmanager
    def encoder_swap(self, inputs: Any, media_embeds: Any) -> Iterator[None]:
        if media_embeds is None:
            yield
            return

        def write_rows(input_ids: Any, inputs_embeds: Any, *args: Any, **kwargs: Any) -> Any:
            mask = self._placeholders(input_ids)
            if not bool(mask.any()):  # a decoding step after the prompt
                return inputs_embeds
            return inputs_embeds.masked_scatter(mask[..., None], media_embeds.to(inputs_embeds.dtype))

        self._merger.forward = write_rows
        try:
            yield
        finally:
            del self._merger.forward  # the module's own forward again
