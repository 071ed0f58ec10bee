"""Voxtral: a Whisper-style encoder, a projector over 4 frames, a Mistral LM, tokenised by mistral-common.

Its processor takes no text with audio placeholders: the conversation itself (audio parts and the prompt) goes
through `apply_chat_template(tokenize=True)`, which encodes the audio with mistral-common's own request
format, pads it to 30 s windows and expands [AUDIO] tokens. Audio is still decoded here first (media_loading,
at the feature extractor's rate), so an unreadable file fails its own request; it is handed over as a WAV.
The `voxtral` extra installs mistral-common.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import GenerationRequest, MediaKind
from ..media_loading import load_audio
from .base import Prepared
from .generic import GenericAdapter


class VoxtralAdapter(GenericAdapter):
    positions_from_mask = True  # Llama-style 1-D rotary positions
    extra: ClassVar[tuple[str, tuple[str, ...]] | None] = ("voxtral", ("mistral_common",))

    @classmethod
    def checkpoint_modalities(cls, config: Any, processor: Any) -> frozenset[MediaKind]:
        return frozenset({"audio"}) if getattr(processor, "feature_extractor", None) is not None else frozenset()

    @classmethod
    def conversation(cls, prompt: str | None, waves: list[Any], rate: int) -> list[dict]:
        """A request as mistral-common's chat: its decoded audio (handed over as WAV), then the prompt."""
        content: list[dict] = [{"type": "audio", "base64": _wav_base64(wave, rate)} for wave in waves]
        if prompt is not None:
            content.append({"type": "text", "text": prompt})
        return [{"role": "user", "content": content}]

    @classmethod
    def vllm_input(cls, processor: Any, request: Any) -> dict | None:
        """vLLM takes Voxtral as mistral-common's token ids and its (padded) audio arrays."""
        rate = cls.audio_rate(processor) or 16000
        waves = [load_audio(m.path, rate) for m in request.media]
        encoded = processor.tokenizer.apply_chat_template(
            [cls.conversation(request.prompt, waves, rate)], tokenize=True, return_dict=True
        )
        item: dict[str, Any] = {"prompt_token_ids": list(encoded["input_ids"][0])}
        if request.media:
            item["multi_modal_data"] = {"audio": [(a, rate) for a in encoded["audio"]]}
        return item

    def placeholder_ids(self) -> dict[str, int]:
        return {"audio": self.processor.audio_token_id}

    def prepared(self, request: GenerationRequest, media: dict[str, list]) -> Prepared:
        self.check_media(request)
        conversation = self.conversation(request.prompt, media.get("audio", []), self.sampling_rate)
        return Prepared("", {"conversation": [conversation]})

    def collate(self, prepared: list[Prepared]) -> Any:
        conversations = [c for p in prepared for c in p.media["conversation"]]
        inputs = self.processor.apply_chat_template(
            conversations, tokenize=True, return_dict=True, processor_kwargs={"padding": True, "return_tensors": "pt"}
        )
        return inputs.to(device=self.model.device, dtype=self.model.dtype)

    # ---- SEA: the projected audio rows go in through inputs_embeds (the forward takes no precomputed output)

    def modality_features(self, modality: str, inputs: Any) -> Any:
        return self.model.get_audio_features(inputs["input_features"], return_dict=True).pooler_output

    def inject(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        return self.inject_embeds(inputs, media_embeds)


def _wav_base64(wave: Any, rate: int) -> str:
    """A decoded waveform as the base64 WAV file mistral-common's audio chunks take."""
    import base64
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format="WAV", subtype="FLOAT")
    return base64.b64encode(buffer.getvalue()).decode()
