"""LLaVA-1.5-style models (LlavaForConditionalGeneration): CLIP tower, projector, causal LM.

The encoder output SEA optimises is `get_image_features(...)`: the selected CLIP layer (CLS
dropped under the 'default' strategy) after the multimodal projector, one row per <image> token.
"""

from __future__ import annotations

from .generic import GenericAdapter


class LlavaAdapter(GenericAdapter):
    positions_from_mask = True  # Llama-style 1-D rotary positions
