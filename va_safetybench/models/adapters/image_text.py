"""Generic image-text-to-text adapter (AutoModelForImageTextToText + the processor's chat template).

Also the base of the LLaVA and Qwen2-VL adapters: all three take a precomputed encoder output
through transformers' `mm_encoder_outputs` forward/generate argument, so injection is the
model's own code path, not a copy of it.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from ..base import Media
from ..media_loading import load_image
from .base import Adapter


class ImageTextAdapter(Adapter):
    modalities: ClassVar[frozenset[str]] = frozenset({"image"})
    positions_from_mask = False  # unknown position scheme: let the model derive positions itself

    @classmethod
    def model_class(cls) -> type:
        from transformers import AutoModelForImageTextToText

        return AutoModelForImageTextToText

    def load_media(self, media: Media) -> tuple[str, Any]:
        return "images", load_image(media.path)

    def placeholder_ids(self) -> dict[str, int]:
        """Placeholder token id per modality, in the config."""
        return {"image": self.model.config.image_token_id}

    def _encoder_call(self, modality: str, inputs: Any) -> tuple[Any, dict[str, Any]]:
        """The model's get_<modality>_features and the arguments for it found in `inputs`."""
        fn = getattr(self.model, f"get_{modality}_features")
        params = inspect.signature(fn).parameters
        return fn, {k: v for k, v in inputs.items() if k in params}

    def _raw_keys(self, modality: str, inputs: Any) -> set[str]:
        """Inputs that carry raw pixels (replaced on injection); grids and sizes stay."""
        _, kw = self._encoder_call(modality, inputs)
        return {k for k in kw if k.startswith("pixel_values")}

    def _present(self, inputs: Any) -> list[str]:
        ids = inputs["input_ids"]
        return [m for m, tok in self.placeholder_ids().items() if bool((ids == tok).any())]

    def _kinds(self, inputs: Any) -> Any:
        """Modality index (position in placeholder_ids) of each placeholder token, flattened order."""
        import torch

        ids = inputs["input_ids"]
        kinds = torch.full_like(ids, -1)
        for i, tok in enumerate(self.placeholder_ids().values()):
            kinds[ids == tok] = i
        return kinds[kinds >= 0]

    def encode_media(self, inputs: Any) -> Any:
        import torch

        kinds = self._kinds(inputs)
        hidden = self.model.get_input_embeddings().weight.shape[1]
        rows = torch.empty(len(kinds), hidden, dtype=self.model.dtype, device=self.model.device)
        for i, modality in enumerate(self.placeholder_ids()):
            if modality in self._present(inputs):
                fn, kw = self._encoder_call(modality, inputs)
                feats = fn(**kw, return_dict=True).pooler_output
                rows[kinds == i] = torch.cat(list(feats)).reshape(-1, hidden).to(rows.dtype)
        return rows

    def inject(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        kinds = self._kinds(inputs)
        if len(kinds) != media_embeds.shape[0]:
            raise ValueError(f"{media_embeds.shape[0]} injected rows for {len(kinds)} placeholder tokens")
        kw = dict(inputs)
        outputs = {}
        for i, modality in enumerate(self.placeholder_ids()):
            if modality in self._present(inputs):
                for key in self._raw_keys(modality, inputs):
                    kw.pop(key)
                outputs[modality] = BaseModelOutputWithPooling(pooler_output=(media_embeds[kinds == i],))
        kw["mm_encoder_outputs"] = outputs
        return kw
