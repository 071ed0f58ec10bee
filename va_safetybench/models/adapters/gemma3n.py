"""Gemma 3n: images through a timm vision tower (the `gemma3n` extra installs timm) and audio through its
conformer; everything else is the generic path.

SEA: images go through `mm_encoder_outputs` (the forward reads the pooled output as one tensor). Audio has no such
argument: the forward always runs `get_audio_features` on `input_features` and then pads its output to the
processor's fixed count of audio soft tokens, so the audio encoder output is the padded rows the language model
receives at those tokens (read there by a hook), and an injection answers the forward's own `get_audio_features`
call with the given rows for the duration of the call (`encoder_swap`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from .generic import GenericAdapter


class _Stop(Exception):
    """Raised by the hook that has read what it needed, so the language model itself does not run."""


class Gemma3nAdapter(GenericAdapter):
    extra: ClassVar[tuple[str, tuple[str, ...]] | None] = ("gemma3n", ("timm",))
    pooled_as_tensor: ClassVar[frozenset[str]] = frozenset({"image"})
    # SDPA's backward gives NaN gradients through the fully masked query rows of a left-padded batch here (seen on
    # transformers 5.25 / torch 2.14, not with eager attention, not in the other families): SEA's gradients need eager.
    gradient_attention: ClassVar[str | None] = "eager"

    def modality_features(self, modality: str, inputs: Any) -> Any:
        if modality != "audio":
            return super().modality_features(modality, inputs)
        seen: dict[str, Any] = {}

        def read(_module: Any, _args: Any, kwargs: dict) -> None:
            seen["embeds"] = kwargs["inputs_embeds"]
            raise _Stop

        handle = self.model.model.language_model.register_forward_pre_hook(read, with_kwargs=True)
        try:
            self.model(**inputs)
        except _Stop:
            pass
        finally:
            handle.remove()
        mask = inputs["input_ids"] == self.placeholder_ids()["audio"]
        return seen["embeds"][mask.to(seen["embeds"].device)].reshape(-1, self.hidden_size)

    def raw_input_keys(self, modality: str, inputs: Any) -> set[str]:
        # input_features stay: they make the forward take its audio branch, which encoder_swap answers
        return set() if modality == "audio" else super().raw_input_keys(modality, inputs)

    def inject(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        kw = super().inject(inputs, media_embeds)
        kw["mm_encoder_outputs"].pop("audio", None)  # the forward reads no audio there
        return kw

    @contextmanager
    def encoder_swap(self, inputs: Any, media_embeds: Any) -> Iterator[None]:
        rows = None if media_embeds is None else self._modality_rows(inputs, media_embeds).get("audio")
        if rows is None:
            yield
            return
        import torch
        from transformers.models.gemma3n.modeling_gemma3n import Gemma3nAudioEncoderModelOutput

        per_audio = rows.reshape(-1, self.model.config.audio_soft_tokens_per_image, rows.shape[-1])
        injected = Gemma3nAudioEncoderModelOutput(
            pooler_output=per_audio,
            audio_mel_mask=torch.zeros(per_audio.shape[:2], dtype=torch.bool, device=per_audio.device),  # type: ignore[arg-type]
        )
        inner = self.model.model
        inner.get_audio_features = lambda *args, **kwargs: injected
        try:
            yield
        finally:
            del inner.get_audio_features  # the class's own method again
