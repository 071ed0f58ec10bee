"""SEA's batches: chat inputs around a blank medium, built, encoded and injected through the model's adapter.

The adapter (va_safetybench.models.adapters) is the one place that knows how a family turns media into
the encoder output and takes a given encoder output in its place: `encode_media` gives the starting
point of every embedding, `forward(..., media_embeds=)` and `generate(..., media_embeds=)` inject it.
What is SEA's own lives here: the blank medium (paper: blank image / blank video / silent audio, real
files read by the adapter's own loaders), one embedding [T, H] per row, and answer tokens appended to
the prompts with `labels` that mark only them.
"""

from __future__ import annotations

import inspect
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from va_safetybench.errors import InputError
from va_safetybench.models.base import MediaKind
from va_safetybench.models.registry import ModelSpec


def model_spec(spec: ModelSpec | str) -> ModelSpec:
    """sea-align's --model, `tiny:NAME` or `hf:PATH` (a bare PATH or hub id means hf:), as the model `va-bench eval
    --model` names: parsed and checked once."""
    if isinstance(spec, ModelSpec):
        return spec
    return ModelSpec.parse(spec if spec.startswith(("tiny:", "hf:")) else f"hf:{spec}", "--model")


def load(spec: ModelSpec | str, dtype: str = "float32", device: str | None = None) -> tuple[Any, dict]:
    """(adapter, checkpoint metadata) for `tiny:NAME` or `hf:PATH` (a bare PATH or hub id means hf:); the
    metadata says `random_weights` for tiny models and checkpoints marked so."""
    from va_safetybench.models.hf import HFBackend
    from va_safetybench.models.registry import make_backend

    spec = model_spec(spec)
    args = {} if spec.backend == "tiny" else {"dtype": dtype}
    backend = make_backend(spec, {**args, "device": device} if device else args)
    assert isinstance(backend, HFBackend)  # tiny: and hf: both run through transformers
    return backend.adapter, {**backend.info.metadata, "random_weights": backend.info.random_weights}


def _write_blank(modality: str, folder: Path) -> Path:
    """A white 224x224 image, 2 s of white 224x224 video at 4 fps, or 1 s of 16 kHz silence."""
    import numpy as np

    if modality == "image":
        from PIL import Image

        path = folder / "blank.png"
        Image.new("RGB", (224, 224), "white").save(path)
    elif modality == "video":
        import av

        path = folder / "blank.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=4)
            stream.width = stream.height = 224
            stream.pix_fmt = "yuv420p"
            for _ in range(8):
                frame = av.VideoFrame.from_ndarray(np.full((224, 224, 3), 255, np.uint8), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    else:
        import soundfile as sf

        path = folder / "blank.wav"
        sf.write(path, np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    return path


@dataclass
class MediaModel:
    """An adapter seen as: question (+ answer tokens) in, a blank medium whose encoder output is swappable."""

    adapter: Any
    modality: MediaKind
    checkpoint: dict = field(default_factory=dict)  # the base checkpoint's metadata (random_weights, ...)
    _blank: dict | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.modality not in self.adapter.modalities:
            raise InputError(
                f"--modality {self.modality}: a {self.model.config.model_type} model takes "
                f"{', '.join(sorted(self.adapter.modalities))}"
            )
        self.tokenizer = self.adapter.tokenizer
        attention = getattr(self.adapter, "gradient_attention", None)
        if attention and self.model.config._attn_implementation != attention:
            self.model.set_attn_implementation(attention)  # SEA differentiates through the model
        self._dir = tempfile.TemporaryDirectory(prefix="sea-blank-")
        self.blank_path = _write_blank(self.modality, Path(self._dir.name))

    @property
    def model(self) -> Any:
        return self.adapter.model

    @property
    def device(self) -> Any:
        return self.model.device

    def answer_ids(self, text: str) -> list[int]:
        """A text target as the tokens greedy decoding must produce: the text, then end of turn."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]

    def _prepare(self, question: str, medium: str | None = None, with_medium: bool = True) -> Any:
        """One row: the question's chat text around `medium` (a file), or around the blank medium, which is
        decoded once and shared by every row (a training set has thousands of distinct questions; a video
        decoded per question would not fit), or (with_medium=False) the question alone."""
        from va_safetybench.models.base import GenerationRequest, Media

        if not with_medium:
            return self.adapter.prepared(GenerationRequest(question), {})
        if medium is not None:
            return self.adapter.prepare(GenerationRequest(question, (Media(self.modality, Path(medium)),)))
        blank = Media(self.modality, self.blank_path)
        if self._blank is None:
            key, decoded = self.adapter.load_media(blank)
            self._blank = {key: [decoded]}
        return self.adapter.prepared(GenerationRequest(question, (blank,)), self._blank)

    def batch(
        self,
        questions: list[str],
        answers: list[list[int]] | None = None,
        media: list[str | None] | None = None,
        with_medium: bool = True,
    ) -> tuple[Any, Any]:
        """(adapter inputs, labels or None): one medium per row (media[i], a file, or the blank medium; none at
        all with with_medium=False, the text-only baseline), prompts left padded; answers (token ids) are
        appended after the prompt, right padded, and only they are labelled."""
        import torch

        rows = list(zip(questions, media or [None] * len(questions)))
        # DPO repeats each row: decode once
        prepared = {row: self._prepare(*row, with_medium=with_medium) for row in dict.fromkeys(rows)}
        inputs = self.adapter.collate([prepared[row] for row in rows])
        if not answers:
            return inputs, None
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        width = max(len(a) for a in answers)
        tail = torch.full((len(answers), width), self.tokenizer.pad_token_id, dtype=ids.dtype)
        tail_mask = torch.zeros(len(answers), width, dtype=mask.dtype)
        for row, answer in enumerate(answers):
            tail[row, : len(answer)] = torch.tensor(answer, dtype=ids.dtype)
            tail_mask[row, : len(answer)] = 1
        tail, tail_mask = tail.to(ids.device), tail_mask.to(mask.device)
        for key, value in list(inputs.items()):  # other per-token tensors (e.g. mm_token_type_ids): text = 0
            if key not in ("input_ids", "attention_mask") and torch.is_tensor(value) and value.shape == ids.shape:
                inputs[key] = torch.cat([value, torch.zeros_like(tail, dtype=value.dtype)], 1)
        inputs["input_ids"] = torch.cat([ids, tail], 1)
        inputs["attention_mask"] = torch.cat([mask, tail_mask], 1)
        labels = torch.cat([torch.full_like(ids, -100), tail.masked_fill(tail_mask == 0, -100)], 1)
        return inputs, labels

    def encode_blank(self) -> Any:
        """The encoder output [T, H] of one blank medium: the starting point of every embedding."""
        return self.encode(None)

    def encode(self, medium: str | None) -> Any:
        """The encoder output [T, H] of a media file (None: the blank medium), frozen."""
        import torch

        with torch.no_grad():
            return self.adapter.encode_media(self.batch(["."], media=[medium])[0]).detach().clone()

    def answer_logits(self, inputs: Any, embeds: Any, labels: Any) -> tuple[Any, Any]:
        """Logits with embeds[i] ([B, T, H]) as row i's encoder output (gradients flow into embeds), at
        the answer positions only, with their labels: logits[:, j] (float32) predicts labels[:, j].

        `batch` appends the answers after left-padded prompts, so every row's answer tokens sit in the
        same last W columns and the W positions before them predict them. Only those reach the LM
        head (`logits_to_keep` where the model takes it): a [B, L, vocab] float tensor for 32 rows of
        a 150k-token vocabulary would otherwise dominate SEA's memory on a real model."""
        labelled = (labels != -100).any(0).nonzero()
        width = labels.shape[1] - int(labelled[0]) if len(labelled) else 1
        flat = embeds.reshape(-1, embeds.shape[-1])
        if "logits_to_keep" in inspect.signature(type(self.model).forward).parameters:
            logits = self.adapter.forward(inputs, media_embeds=flat, logits_to_keep=width + 1).logits
        else:
            logits = self.adapter.forward(inputs, media_embeds=flat).logits[:, -(width + 1) :]
        return logits[:, :-1].float(), labels[:, -width:]

    def generate(self, questions: list[str], embeds: Any, max_new_tokens: int) -> list[str]:
        """Greedy answers with embeds[i] in place of row i's encoder output."""
        from va_safetybench.models.base import GenerationSettings

        inputs, _ = self.batch(questions)
        return self.adapter.generate(
            inputs, GenerationSettings(max_new_tokens=max_new_tokens), media_embeds=embeds.reshape(-1, embeds.shape[-1])
        )
