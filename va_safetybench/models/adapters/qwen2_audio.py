"""Qwen2-Audio: a Whisper-style audio encoder, a linear projector, Qwen2.

transformers' Qwen2-Audio has no `get_audio_features` nor `mm_encoder_outputs`, so
`encode_media` runs the audio tower and projector with the same padding mask the model's
forward builds, and `inject` scatters the given rows into the token embeddings at the
<|AUDIO|> positions and passes `inputs_embeds`. Audio-only requests (prompt None) send the
chat template and the audio, no text of their own.
"""

from __future__ import annotations

from typing import Any

from .generic import GenericAdapter


class Qwen2AudioAdapter(GenericAdapter):
    positions_from_mask = True  # 1-D rotary positions

    def messages(self, request: Any) -> list[dict]:
        # The official template (Qwen2-Audio-7B-Instruct) recognises audio parts by their 'audio_url' key.
        messages = super().messages(request)
        for part, media in zip(messages[0]["content"], request.media):
            part["audio_url"] = str(media.path)
        return messages

    def encode_media(self, inputs: Any) -> Any:
        """Projected audio features of the valid (unpadded) frames, audios in batch order."""
        import torch
        from transformers.masking_utils import create_bidirectional_mask

        if "input_features" not in inputs:
            return torch.empty(0, self.model.config.text_config.hidden_size, device=self.model.device)
        base = self.model.model
        tower = base.audio_tower
        features = inputs["input_features"]
        feat_lengths, out_lengths = tower._get_feat_extract_output_lengths(inputs["feature_attention_mask"].sum(-1))
        max_len = (features.shape[-1] - 2) // 2 + 1
        valid = torch.arange(max_len, device=features.device)[None, :] < feat_lengths[:, None]
        mask = create_bidirectional_mask(
            config=tower.config,
            inputs_embeds=torch.zeros(features.shape[0], max_len, 1, dtype=self.model.dtype, device=features.device),
            attention_mask=valid.long(),
        )
        projected = base.multi_modal_projector(tower(features, attention_mask=mask).last_hidden_state)
        keep = torch.arange(projected.shape[1], device=projected.device)[None, :] < out_lengths[:, None]
        return projected[keep]

    def inject(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        return self.inject_embeds(inputs, media_embeds)
