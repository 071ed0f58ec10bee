"""What every model family adapter does: chat messages, batched processor inputs, the SEA hooks.

An adapter wraps one loaded model and its processor. Backends call `prepare` (per request: the
chat text and the decoded media; raises MediaError for a bad file), `collate` (a left-padded
batch) and `generate`. `sea_align` uses `encode_media` and the `media_embeds=` argument of
`forward`/`generate`: the modality encoder output exactly as it enters the language model
(after the projector), one row per placeholder token in the order the placeholders appear in
the flattened batch, injected in place of the pixels/audio.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..base import GenerationRequest, GenerationSettings, Media, MediaKind
from ..media_loading import VIDEO_FPS, VIDEO_MAX_PIXELS, VIDEO_MIN_PIXELS


@dataclass(frozen=True)
class MediaOptions:
    """Video sampling settings (qwen-vl-utils semantics, see media_loading); `audio_in_video`: families that can
    hear a video's audio track (the Omni thinkers) get it, off by default (the benchmark's videos are silent)."""

    fps: float = VIDEO_FPS
    max_pixels: int = VIDEO_MAX_PIXELS
    min_pixels: int = VIDEO_MIN_PIXELS
    audio_in_video: bool = False


@dataclass
class Prepared:
    """One request, ready to batch: its chat text and its decoded media per processor argument."""

    text: str
    media: dict[str, list] = field(default_factory=dict)


class Adapter(ABC):
    # The media kinds this checkpoint takes (set from its processor by the generic adapter).
    modalities: frozenset[MediaKind]
    # Families whose language model uses 1-D positions: forward() derives them from the attention
    # mask so that a left-padded forward pass matches what generate() computes.
    positions_from_mask: ClassVar[bool] = True

    def __init__(self, model: Any, processor: Any, options: MediaOptions | None = None) -> None:
        self.model = model
        self.processor = processor
        self.options = options or MediaOptions()
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"

    # ---- requests -> inputs -------------------------------------------------------------------

    def messages(self, request: GenerationRequest) -> list[dict]:
        """The official scripts' layout: one user turn, media first, then the prompt (if any)."""
        content: list[dict] = [{"type": m.kind} for m in request.media]
        if request.prompt is not None:
            content.append({"type": "text", "text": request.prompt})
        return [{"role": "user", "content": content}]

    @abstractmethod
    def load_media(self, media: Media) -> tuple[str, Any]:
        """(processor argument name, decoded media); raises MediaError for an unreadable file."""

    def check_media(self, request: GenerationRequest) -> None:
        """A medium this checkpoint cannot take fails its request (ValueError), not the batch."""
        unsupported = {m.kind for m in request.media} - self.modalities
        if unsupported:
            raise ValueError(f"{type(self).__name__} takes {sorted(self.modalities)}, not {sorted(unsupported)}")

    def chat_text(self, request: GenerationRequest) -> str:
        """The request's prompt through the chat template, media placeholders included, not yet expanded."""
        self.check_media(request)
        return self.processor.apply_chat_template(self.messages(request), tokenize=False, add_generation_prompt=True)

    def prepare(self, request: GenerationRequest) -> Prepared:
        self.check_media(request)  # before decoding anything
        media: dict[str, list] = {}
        for m in request.media:
            key, value = self.load_media(m)
            media.setdefault(key, []).append(value)
        return self.prepared(request, media)

    def prepared(self, request: GenerationRequest, media: dict[str, list]) -> Prepared:
        """The request with its media already decoded (`prepare`'s second half: SEA decodes one blank medium
        and pairs it with many questions)."""
        return Prepared(self.chat_text(request), media)

    def processor_media(self, media: dict[str, list]) -> dict[str, Any]:
        """Processor arguments for the batch's decoded media (families add e.g. video metadata)."""
        return media

    def collate(self, prepared: list[Prepared]) -> Any:
        """A left-padded BatchFeature on the model's device, floating tensors in the model's dtype."""
        media: dict[str, list] = {}
        for p in prepared:
            for key, values in p.media.items():
                media.setdefault(key, []).extend(values)
        inputs = self.processor(
            text=[p.text for p in prepared], padding=True, return_tensors="pt", **self.processor_media(media)
        )
        return inputs.to(device=self.model.device, dtype=self.model.dtype)

    def build_inputs(self, requests: list[GenerationRequest]) -> Any:
        return self.collate([self.prepare(r) for r in requests])

    # ---- model calls ----------------------------------------------------------------------------

    @abstractmethod
    def encode_media(self, inputs: Any) -> Any:
        """Encoder output after the projector: (number of placeholder tokens in the batch, row width: the hidden size,
        wider where the encoder also feeds later layers, generic.py)."""

    @abstractmethod
    def inject(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        """Model keyword arguments that use `media_embeds` in place of the raw media inputs."""

    def encoder_swap(self, inputs: Any, media_embeds: Any) -> AbstractContextManager[None]:
        """Where a family's forward recomputes an encoder output from raw inputs and takes no precomputed one,
        this makes that encoder call answer with `media_embeds` inside the block; every call of the model with
        injected kwargs runs inside it. Other families: nothing to do."""
        return nullcontext()

    def model_kwargs(self, inputs: Any, media_embeds: Any = None) -> dict[str, Any]:
        return dict(inputs) if media_embeds is None else self.inject(inputs, media_embeds)

    def forward_kwargs(self, inputs: Any, media_embeds: Any = None) -> dict[str, Any]:
        """The model's keyword arguments for one forward pass over `inputs` (what `forward` passes; trainers
        that call the model themselves take them from here)."""
        kw = self.model_kwargs(inputs, media_embeds)
        if self.positions_from_mask:
            mask = inputs["attention_mask"]
            kw["position_ids"] = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
        return kw

    def forward(self, inputs: Any, media_embeds: Any = None, **kwargs: Any) -> Any:
        """One forward pass (logits for every position); extra kwargs (labels, ...) go to the model."""
        with self.encoder_swap(inputs, media_embeds):
            return self.model(**{**self.forward_kwargs(inputs, media_embeds), **kwargs})

    def generate(self, inputs: Any, settings: GenerationSettings, media_embeds: Any = None) -> list[str]:
        """Decoded continuations, one per row; greedy when settings.temperature is 0."""
        import torch

        sampling: dict[str, Any] = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        if settings.temperature > 0:
            torch.manual_seed(settings.seed)
            sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p, "top_k": None}
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode(), self.encoder_swap(inputs, media_embeds):
            out = self.model.generate(
                **self.model_kwargs(inputs, media_embeds),
                max_new_tokens=settings.max_new_tokens,
                pad_token_id=pad if pad is not None else self.tokenizer.eos_token_id,
                **sampling,
            )
        texts = self.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        return [_cut_at_stop(t, settings.stop) for t in texts]


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[: min(cuts)] if cuts else text
