"""The model side of SEA: chat inputs with a blank medium, and injection of a given encoder output.

SEA optimises the tensor that leaves the modality projector and enters the language model. We reach
it through a forward hook on the projector module (LLaVA `multi_modal_projector`, Qwen2-VL
`visual.merger`, Qwen2-Audio `multi_modal_projector`): every forward or generate call inside
`inject(E)` runs the model's own code path (placeholder expansion, M-RoPE positions, audio length
masks) on a blank image / blank video / silent audio, and the hook swaps the projector's output for
E, row by row. When va_safetybench's adapters expose `encode_media`/`inject`, this module is what
they replace.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from va_safetybench.errors import InputError

PROJECTORS = {"qwen2_vl": "model.visual.merger", "qwen2_5_vl": "model.visual.merger",
              "llava": "model.multi_modal_projector", "qwen2_audio": "model.multi_modal_projector"}
MODALITIES = {"qwen2_vl": ("image", "video"), "qwen2_5_vl": ("image", "video"), "llava": ("image",),
              "qwen2_audio": ("audio",)}


def load(spec: str, dtype: str = "float32") -> tuple[Any, Any, dict]:
    """(model, processor, metadata) for `tiny:NAME`, `hf:PATH` or a bare PATH/hub id."""
    import torch
    if spec.startswith("tiny:"):
        from va_safetybench.models.tiny import build_tiny
        model, processor = build_tiny(spec[5:])
        return model, processor, {}
    path = spec[3:] if spec.startswith("hf:") else spec
    import json
    from pathlib import Path

    import transformers
    try:
        config = transformers.AutoConfig.from_pretrained(path)
        classes = {"qwen2_vl": "Qwen2VLForConditionalGeneration", "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
                   "llava": "LlavaForConditionalGeneration", "qwen2_audio": "Qwen2AudioForConditionalGeneration"}
        if config.model_type not in classes:
            raise InputError(f"--model {spec}: SEA supports {', '.join(classes)}, not {config.model_type!r}")
        model = getattr(transformers, classes[config.model_type]).from_pretrained(path, dtype=getattr(torch, dtype))
        processor = transformers.AutoProcessor.from_pretrained(path)
    except OSError as e:
        raise InputError(f"--model {spec}: cannot load ({e})") from None
    meta_file = Path(path) / "va_safetybench.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    return model.eval(), processor, meta


@dataclass
class MediaModel:
    """A multimodal model and its processor, seen as: text in, blank medium in, encoder output swappable."""

    model: Any
    processor: Any
    modality: str

    def __post_init__(self) -> None:
        kind = self.model.config.model_type
        if kind not in PROJECTORS:
            raise InputError(f"model type {kind!r} is not supported by SEA ({', '.join(PROJECTORS)})")
        if self.modality not in MODALITIES[kind]:
            raise InputError(f"--modality {self.modality}: a {kind} model takes {', '.join(MODALITIES[kind])}")
        self.projector = self.model.get_submodule(PROJECTORS[kind])
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self._replacement = None

        def hook(module: Any, args: Any, out: Any) -> Any:
            if self._replacement is None:
                return out
            return self._replacement.to(out.dtype).reshape(out.shape)

        self.projector.register_forward_hook(hook)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def blank(self) -> Any:
        """The medium whose encoder output initialises every embedding (paper: blank image/video, silent audio)."""
        import numpy as np
        from PIL import Image
        if self.modality == "image":
            return Image.new("RGB", (224, 224), "white")
        if self.modality == "video":
            return np.full((4, 224, 224, 3), 255, dtype=np.uint8)
        return np.zeros(16000, dtype=np.float32)  # one second of silence at 16 kHz

    def chat(self, question: str) -> str:
        content = [{"type": self.modality}, {"type": "text", "text": question}]
        if self.modality == "audio":
            content[0]["audio_url"] = "blank.wav"
        return self.processor.apply_chat_template([{"role": "user", "content": content}],
                                                  add_generation_prompt=True, tokenize=False)

    def batch(self, questions: list[str], answers: list[str] | None = None) -> dict:
        """Processor inputs (one blank medium per row, left padded); with answers, `labels` mark only
        the answer tokens and the end-of-turn token."""
        texts = [self.chat(q) for q in questions]
        eos = self.tokenizer.eos_token or ""
        if answers is not None:
            texts = [t + a + eos for t, a in zip(texts, answers)]
        media = [self.blank() for _ in texts]
        key = {"image": "images", "video": "videos", "audio": "audio"}[self.modality]
        kwargs = {key: media, "text": texts, "return_tensors": "pt", "padding": True}
        if self.modality == "audio":
            kwargs["sampling_rate"] = 16000
        enc = dict(self.processor(**kwargs))
        if answers is not None:
            labels = enc["input_ids"].clone()
            labels[enc["attention_mask"] == 0] = -100
            for row, answer in enumerate(answers):
                n = len(self.tokenizer(answer + eos, add_special_tokens=False)["input_ids"])
                labels[row, : labels.shape[1] - n] = -100
            enc["labels"] = labels
        return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in enc.items()}

    @contextmanager
    def inject(self, embeds: Any) -> Iterator[None]:
        """Within the block, the projector's output for row i of every batch is embeds[i] ([B, T, H])."""
        self._replacement = embeds
        try:
            yield
        finally:
            self._replacement = None

    def encode_blank(self) -> Any:
        """The projector's output [T, H] for one blank medium: the starting point of every embedding."""
        import torch
        captured = []
        handle = self.projector.register_forward_hook(lambda m, a, out: captured.append(out.detach()))
        try:
            with torch.no_grad():
                self.model(**self.batch(["."]))
        finally:
            handle.remove()
        out = captured[0]
        return out.reshape(-1, out.shape[-1]).clone()

    def generate(self, questions: list[str], embeds: Any, max_new_tokens: int) -> list[str]:
        """Greedy answers with embeds[i] in place of row i's encoder output."""
        import torch
        enc = self.batch(questions)
        with torch.no_grad(), self.inject(embeds):
            out = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
