"""Qwen2.5-Omni and Qwen3-Omni: the thinker only (text out, no speech), images, videos and audio.

A released checkpoint (`qwen2_5_omni` / `qwen3_omni_moe`) holds the thinker beside the talker and the
vocoder; only the thinker's weights are read (its config and `thinker.` keys), so no memory goes to speech
generation. A thinker-only checkpoint loads as it is. Videos go without their audio track (the processor's
default; the benchmark's video tasks are silent) unless the `audio_in_video` model arg asks for it: then each
video's track is decoded by media_loading and the processor interleaves its audio tokens with the frames' in
time (TMRoPE), the model told so by `use_audio_in_video`.

SEA: images and videos are injected through `mm_encoder_outputs` (the generic path); the thinker takes audio
features only from `input_features`, so injected audio rows replace the <|AUDIO|> token embeddings and go in
as `inputs_embeds`, with `feature_attention_mask` kept for the model's time-aligned positions.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import GenerationRequest
from ..media_loading import load_audio
from .base import Prepared
from .deepstack import DeepStackAdapter
from .generic import embeds_with
from .qwen2_vl import Qwen2VLAdapter

_THINKER_KEYS = {r"^thinker\.": ""}  # a released checkpoint's thinker weights, renamed as the thinker's own


class QwenOmniAdapter(Qwen2VLAdapter):
    transformers_class: ClassVar[str | None] = "Qwen2_5OmniThinkerForConditionalGeneration"
    hears_video_audio: ClassVar[bool] = True

    def prepare(self, request: GenerationRequest) -> Prepared:
        prepared = super().prepare(request)
        if self.options.audio_in_video:  # every audio slot in prompt order: (from a video?, waveform)
            audio = iter(prepared.media.get("audio", []))
            prepared.media["audio_slots"] = [
                (True, load_audio(m.path, self.sampling_rate)) if m.kind == "video" else (False, next(audio))
                for m in request.media
                if m.kind in ("video", "audio")
            ]
        return prepared

    def processor_media(self, media: dict[str, list]) -> dict[str, Any]:
        slots = media.pop("audio_slots", None)
        kwargs = super().processor_media(media)
        if slots and any(from_video for from_video, _ in slots):
            videos = iter(range(len(slots)))
            kwargs.update(
                audio=[wave for _, wave in slots],
                audio_from_video_indices=[next(videos) if from_video else None for from_video, _ in slots],
                load_audio_from_video=True,
                sampling_rate=self.sampling_rate,
            )
        return kwargs

    def collate(self, prepared: list[Prepared]) -> Any:
        inputs = super().collate(prepared)
        if any(from_video for p in prepared for from_video, _ in p.media.get("audio_slots", [])):
            inputs["use_audio_in_video"] = True  # the model's positions interleave audio and frames in time
        return inputs

    @classmethod
    def load_model(cls, path: str, config: Any, trust_remote_code: bool, **from_pretrained: Any) -> Any:
        thinker = cls.model_class(config.model_type)
        if hasattr(config, "thinker_config"):  # released type: thinker + talker + vocoder
            from_pretrained = {**from_pretrained, "config": config.thinker_config, "key_mapping": _THINKER_KEYS}
        return thinker.from_pretrained(path, trust_remote_code=trust_remote_code, **from_pretrained)

    def modality_features(self, modality: str, inputs: Any) -> Any:
        if modality != "audio":
            return super().modality_features(modality, inputs)
        fn, kw = self._encoder_call("audio", inputs)
        return fn(**kw, return_dict=True).last_hidden_state  # valid frames of every audio, in batch order

    def inject(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        kw = super().inject(inputs, media_embeds)
        if "audio" not in self._present(inputs):
            return kw
        kw.pop("input_features")
        audio = kw["mm_encoder_outputs"].pop("audio").pooler_output[0]
        kw["inputs_embeds"] = embeds_with(self.model, inputs["input_ids"], self.placeholder_ids()["audio"], audio)
        return kw


class Qwen3OmniAdapter(DeepStackAdapter, QwenOmniAdapter):
    """Qwen3-Omni's thinker: Qwen3-VL's vision tower, DeepStack layers included (deepstack.py)."""

    transformers_class: ClassVar[str | None] = "Qwen3OmniMoeThinkerForConditionalGeneration"
    vllm_video_metadata: ClassVar[bool] = True  # Qwen3-VL's timestamped frames
