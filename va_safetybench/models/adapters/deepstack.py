"""DeepStack (Qwen3-VL, Qwen3-Omni): the vision encoder feeds the language model at its input and again at the
first few decoder layers (`deepstack_visual_indexes`: one feature per placeholder token for each).

For SEA the encoder output is everything the encoder hands the language model, so a row holds the pooled feature
and then each per-layer feature, side by side ([hidden x (1 + layers)]): an optimised embedding reaches every
layer the encoder feeds, and its per-layer parts are optimised together. Injection splits a row back into the
pooled output and the per-layer features the model's forward takes in `mm_encoder_outputs`.
"""

from __future__ import annotations

from typing import Any

from .generic import GenericAdapter

VISION = ("image", "video")


class DeepStackAdapter(GenericAdapter):
    def deepstack_layers(self) -> int:
        """How many decoder layers, after the input, receive the vision encoder's features."""
        return len(self.model.config.vision_config.deepstack_visual_indexes)

    def row_width(self, modality: str) -> int:
        layers = self.deepstack_layers() if modality in VISION else 0
        return super().row_width(modality) * (1 + layers)

    def encoder_parts(self, modality: str, output: Any) -> list[Any]:
        if modality not in VISION:
            return super().encoder_parts(modality, output)
        return [output.pooler_output, *output.deepstack_features]

    def encoder_output(self, modality: str, rows: Any) -> Any:
        if modality not in VISION:
            return super().encoder_output(modality, rows)
        from transformers.models.qwen3_vl.modeling_qwen3_vl import BaseModelOutputWithDeepstackFeatures

        pooled, *layers = ((part,) for part in rows.split(self.hidden_size, dim=-1))  # one-medium tuples
        # per-medium tuples, as the model's own get_image_features returns them (its annotation says tensors)
        return BaseModelOutputWithDeepstackFeatures(pooler_output=pooled, deepstack_features=layers)  # type: ignore[arg-type]
