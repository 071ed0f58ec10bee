"""The media our lm-eval tasks hand to a model class, in the forms lm-eval's own model classes take.

lm-eval's multimodal model classes read a request's media from its `visual` / `audio` lists:
`hf-multimodal` and `vllm-vlm` take PIL images, `hf-audiolm-qwen` takes {"array", "sampling_rate"} dicts, and
each finds where the media go by a placeholder in the prompt (`<image>`, `<audio>`). Our tasks give exactly that,
decoded from the bench's verified files, and our own `va-bench` class reads the file path each object carries
(`BenchImage.path`, `BenchAudio["path"]`), so it never decodes them here and its backends read the file as
before. Both objects decode on first use: lm-eval builds every request of a run before generating, and an
eagerly decoded MM-SafetyBench task (1,680 images of about 1024x1024) would hold about 5 GB of pixels before the
first forward pass.

lm-eval has no video input. A video task's `visual` entries are {"type": "video", "path": ...}, which only a
model class that declares `ACCEPTS_VIDEO = True` reads (ours does); any other class is refused when lm-eval
builds the task's requests, before a model generates anything (`refuse_video`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import InputError

IMAGE_PLACEHOLDER = "<image>"  # lm-eval's DEFAULT_IMAGE_PLACEHOLDER (hf-multimodal, vllm-vlm)
AUDIO_PLACEHOLDER = "<audio>"  # lm-eval's DEFAULT_AUDIO_PLACEHOLDERS (hf-audiolm-qwen)
PLACEHOLDERS = {"image": IMAGE_PLACEHOLDER, "audio": AUDIO_PLACEHOLDER}
# Whisper-family audio encoders (Qwen2-Audio, Qwen2.5/3-Omni, Voxtral, Phi-4, Gemma 3n) take 16 kHz; lm-eval's
# hf-audiolm-qwen hands the array to the processor without its rate, so the array must already be at it.
DEFAULT_AUDIO_SAMPLING_RATE = 16_000


class BenchImage(Image.Image):
    """A bench image as a PIL image: size and mode read from the header now, pixels decoded on first use.

    `path` is the verified file, for a model class that reads files (ours). Pickled (lm-eval's
    `--cache_requests`), it stays a reference to that file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        with Image.open(self.path) as header:
            self._mode, self._size = header.mode, header.size
            self.format = header.format

    def load(self) -> Any:
        if self._im is None:
            with Image.open(self.path) as source:
                source.load()
                self.im, self.info, self.palette = source.im, dict(source.info), source.palette
                self._mode, self._size = source.mode, source.size
        return super().load()

    def __reduce__(self) -> tuple:
        return (BenchImage, (self.path,))


class BenchAudio(Mapping):
    """A bench audio file as lm-eval's audio dict {"array", "sampling_rate", "path"}: mono float32 decoded on
    first access of "array" at `sampling_rate` (resampled as our hf backend does, media_loading.load_audio)."""

    def __init__(self, path: Path, sampling_rate: int = DEFAULT_AUDIO_SAMPLING_RATE) -> None:
        self.path = Path(path)
        self.sampling_rate = int(sampling_rate)
        self._array: Any = None

    def __getitem__(self, key: str) -> Any:
        if key == "array":
            if self._array is None:
                from ..models.media_loading import load_audio

                self._array = load_audio(self.path, self.sampling_rate)
            return self._array
        if key == "sampling_rate":
            return self.sampling_rate
        if key == "path":
            return str(self.path)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("array", "sampling_rate", "path"))

    def __len__(self) -> int:
        return 3

    def __repr__(self) -> str:  # lm-eval logs a sample's arguments: the path, never a million samples
        return f"BenchAudio({str(self.path)!r}, sampling_rate={self.sampling_rate})"

    def __reduce__(self) -> tuple:
        return (BenchAudio, (self.path, self.sampling_rate))


def with_placeholders(prompt: str, media_kinds: list[str]) -> str:
    """The prompt as lm-eval's model classes read it: one placeholder per image / audio, before the text."""
    return "".join(PLACEHOLDERS.get(kind, "") for kind in media_kinds) + prompt


def strip_placeholders(context: str, media_kinds: list[str]) -> str:
    """The prompt without the placeholders `with_placeholders` put before it (one per medium of that kind):
    our backends place the media themselves, and the official prompt is what they and the cache key see."""
    for kind in media_kinds:
        placeholder = PLACEHOLDERS.get(kind)
        if placeholder and context.startswith(placeholder):
            context = context[len(placeholder) :]
    return context


def refuse_video(task: str) -> None:
    """Stop before generation when lm-eval is building `task`'s requests for a model class that takes no video.

    lm-eval hands a task no handle on the model, so the model is read from lm-eval's `evaluate` frame, the
    caller of the task's request building; outside lm-eval's evaluate nothing is refused here."""
    lm = _evaluating_model()
    if lm is None or getattr(lm, "ACCEPTS_VIDEO", False):
        return
    raise InputError(
        f"task {task} gives the model video, which lm-eval model class {_model_name(lm)} cannot take "
        f"(lm-eval has no video input): run it with --model va-bench (`va-bench lm-eval` or `va-bench eval`), "
        f"or with lmms-eval through tasks/lmms_eval"
    )


def _evaluating_model() -> Any:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "evaluate" and frame.f_globals.get("__name__") == "lm_eval.evaluator":
            return frame.f_locals.get("lm")
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _model_name(lm: Any) -> str:
    """The `--model` name of lm's class (unwrapping lm-eval's CachingLM), else its class name."""
    from lm_eval.api.model import CachingLM
    from lm_eval.api.registry import model_registry

    cls = type(lm.lm if isinstance(lm, CachingLM) else lm)
    target = f"{cls.__module__}:{cls.__name__}"
    names = [alias for alias, obj in model_registry.items() if obj is cls or obj == target]
    return repr(names[0]) if names else cls.__name__
