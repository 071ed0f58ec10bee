"""The media our lm-eval tasks hand to a model class, in the forms lm-eval's own model classes take.

lm-eval's multimodal model classes read a request's media from its `visual` / `audio` lists:
`hf-multimodal` and `vllm-vlm` take PIL images, `hf-audiolm-qwen` takes {"array", "sampling_rate"} dicts, and
each finds where the media go by a placeholder in the prompt (`<image>`, `<audio>`). Our tasks give exactly that:
the safety tasks from the bench's verified files (`BenchImage`, `BenchAudio`, whose file our own `va-bench` class
reads: `.path`, `["path"]`), the capability tasks from the encoded bytes their data sets hold (`EncodedImage`,
`EncodedAudio`, whose bytes our class writes out as they are) or from their files. Our class never decodes them
here; its backends read the files as before. Every one decodes on first use: lm-eval builds every request of a
run before generating, and an eagerly decoded MM-SafetyBench task (1,680 images of about 1024x1024) would hold
about 5 GB of pixels before the first forward pass (MME's 2,374 images, a few GB more).

lm-eval has no video input. A video task's `visual` entries are {"type": "video", "path": ...}, which only a
model class that declares `ACCEPTS_VIDEO = True` reads (ours does); any other class is refused when lm-eval
builds the task's requests, before a model generates anything (model_checks.refuse_unfit_model).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from PIL import Image

IMAGE_PLACEHOLDER = "<image>"  # lm-eval's DEFAULT_IMAGE_PLACEHOLDER (hf-multimodal, vllm-vlm)
AUDIO_PLACEHOLDER = "<audio>"  # lm-eval's DEFAULT_AUDIO_PLACEHOLDERS (hf-audiolm-qwen)
PLACEHOLDERS = {"image": IMAGE_PLACEHOLDER, "audio": AUDIO_PLACEHOLDER}
# Whisper-family audio encoders (Qwen2-Audio, Qwen2.5/3-Omni, Voxtral, Phi-4, Gemma 3n) take 16 kHz; lm-eval's
# hf-audiolm-qwen hands the array to the processor without its rate, so the array must already be at it.
DEFAULT_AUDIO_SAMPLING_RATE = 16_000


class _LazyImage(Image.Image):
    """A PIL image whose size and mode are read from the header now and whose pixels are decoded on first use.

    A file whose header does not read is not refused here, while lm-eval builds every request of the run: it
    fails when its pixels are read (our class: that item's error), as any broken medium does."""

    def __init__(self) -> None:
        super().__init__()
        try:
            with self._open() as header:
                self._mode, self._size = self._mode_of(header), header.size
                self.format = header.format
        except (OSError, SyntaxError, ValueError):  # PIL's UnidentifiedImageError is an OSError
            pass

    def _open(self) -> Image.Image:
        raise NotImplementedError

    def _mode_of(self, header: Image.Image) -> str:
        return header.mode

    def _decoded(self, source: Image.Image) -> Image.Image:
        return source

    def load(self) -> Any:
        if self._im is None:
            with self._open() as source:
                source.load()
                decoded = self._decoded(source)
                self.im, self.info, self.palette = decoded.im, dict(source.info), decoded.palette
                self._mode, self._size = decoded.mode, decoded.size
        return super().load()


class BenchImage(_LazyImage):
    """A bench image file as a PIL image, decoded on first use.

    `path` is the verified file, for a model class that reads files (ours). Pickled (lm-eval's
    `--cache_requests`), it stays a reference to that file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        super().__init__()

    def _open(self) -> Image.Image:
        return Image.open(self.path)

    def __reduce__(self) -> tuple:
        return (BenchImage, (self.path,))

    def __repr__(self) -> str:  # how lm-eval's sample logs show it (lm_eval_run.media_logged_by_reference)
        return f"BenchImage({str(self.path)!r})"


class EncodedImage(_LazyImage):
    """An image held encoded (a capability data set's PNG / JPEG bytes, as the hub stores them) as an RGB PIL
    image, decoded on first use: MME's 2,374 images decoded up front would hold gigabytes of pixels.

    `data` is the encoded file, which a model class that reads files (ours) writes out as it is."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        super().__init__()

    def _open(self) -> Image.Image:
        return Image.open(io.BytesIO(self.data))

    def _mode_of(self, header: Image.Image) -> str:
        return "RGB"

    def _decoded(self, source: Image.Image) -> Image.Image:
        return source.convert("RGB")

    @property
    def suffix(self) -> str:
        """The file extension of `data`'s format (".png", ".jpeg")."""
        return f".{(self.format or 'img').lower()}"

    def __reduce__(self) -> tuple:
        return (EncodedImage, (self.data,))

    def __repr__(self) -> str:
        return f"EncodedImage({len(self.data)} bytes)"


class _LazyAudio(Mapping):
    """lm-eval's audio dict {"array", "sampling_rate"}: mono float32 decoded on first access of "array" at
    `sampling_rate` (resampled as our hf backend does, media_loading.load_audio)."""

    KEYS: tuple[str, ...] = ("array", "sampling_rate")

    def __init__(self, sampling_rate: int) -> None:
        self.sampling_rate = int(sampling_rate)
        self._array: Any = None

    def _decode(self) -> Any:
        raise NotImplementedError

    def _extra(self, key: str) -> Any:
        raise KeyError(key)

    def __getitem__(self, key: str) -> Any:
        if key == "array":
            if self._array is None:
                self._array = self._decode()
            return self._array
        if key == "sampling_rate":
            return self.sampling_rate
        return self._extra(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.KEYS)

    def __len__(self) -> int:
        return len(self.KEYS)


class BenchAudio(_LazyAudio):
    """A bench audio file as lm-eval's audio dict, plus its "path" (for a model class that reads files: ours)."""

    KEYS = ("array", "sampling_rate", "path")

    def __init__(self, path: Path, sampling_rate: int = DEFAULT_AUDIO_SAMPLING_RATE) -> None:
        self.path = Path(path)
        super().__init__(sampling_rate)

    def _decode(self) -> Any:
        from ..models.media_loading import load_audio

        return load_audio(self.path, self.sampling_rate)

    def _extra(self, key: str) -> Any:
        if key == "path":
            return str(self.path)
        raise KeyError(key)

    def __repr__(self) -> str:  # lm-eval logs a sample's arguments: the path, never a million samples
        return f"BenchAudio({str(self.path)!r}, sampling_rate={self.sampling_rate})"

    def __reduce__(self) -> tuple:
        return (BenchAudio, (self.path, self.sampling_rate))


class EncodedAudio(_LazyAudio):
    """Audio held encoded (a capability data set's FLAC / WAV bytes, as the hub stores them) as lm-eval's audio
    dict; `data` is the encoded file, which a model class that reads files (ours) writes out as it is."""

    def __init__(self, data: bytes, sampling_rate: int = DEFAULT_AUDIO_SAMPLING_RATE, name: str = "audio") -> None:
        self.data = bytes(data)
        self.name = name
        super().__init__(sampling_rate)

    def _decode(self) -> Any:
        from ..models.media_loading import load_audio

        return load_audio(io.BytesIO(self.data), self.sampling_rate, name=self.name)

    @property
    def suffix(self) -> str:
        """The file extension of `data`'s format (".flac", ".wav"), "" where soundfile cannot tell."""
        import soundfile

        try:
            return f".{soundfile.info(io.BytesIO(self.data)).format.lower()}"
        except (RuntimeError, TypeError, ValueError):  # soundfile.LibsndfileError is a RuntimeError
            return ""

    def __repr__(self) -> str:
        return f"EncodedAudio({self.name!r}, {len(self.data)} bytes, sampling_rate={self.sampling_rate})"

    def __reduce__(self) -> tuple:
        return (EncodedAudio, (self.data, self.sampling_rate, self.name))


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
