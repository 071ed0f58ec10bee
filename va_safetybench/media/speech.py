"""Speech for the VA-SafetyBench audio tasks: Audio-only, KPT and KPT+Noise.

Audio-only speaks the item's whole question (VA `Text_only`), KPT speaks the key phrase, and
KPT+Noise is `noise_seconds` of white noise followed by exactly the KPT samples. Every file is
16 kHz mono 16-bit PCM WAV, the rate speech models (Qwen2-Audio, Whisper front ends) consume.

Noise: Gaussian white noise at an RMS of NOISE_DBFS = -20 dBFS (relative to int16 full scale),
seeded from the build seed and the item key, so a rebuild writes byte-identical files.

Backends (`--tts`): `espeak` runs Debian's espeak-ng offline; `edge` calls Microsoft Edge's
online TTS through the `edge-tts` package, the engine the VA-SafetyBench paper used. Benchmark
text never appears on a command line: espeak reads it from stdin.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import InputError, require_extra
from ..items import Item
from ..materialize.hashing import text_digest
from ..materialize.renderer import RecordedHash, Renderer
from ..materialize.settings import BuildSettings

SAMPLE_RATE = 16_000
NOISE_DBFS = -20.0
BACKENDS = ("espeak", "edge")
DEFAULT_VOICES = {"espeak": "en-us", "edge": "en-US-AriaNeural"}
TEXT_FIELDS = ("question", "key_phrase")


class SpeechRenderer(Renderer):
    version = "1"

    def __init__(self, settings: BuildSettings, text: str = "key_phrase", noise_seconds: float = 0.0) -> None:
        super().__init__(settings, text=text, noise_seconds=noise_seconds)
        if settings.tts not in BACKENDS:
            raise InputError(f"--tts {settings.tts!r}: unknown TTS backend; choose one of {', '.join(BACKENDS)}")
        if text not in TEXT_FIELDS:
            raise InputError(f"speech renderer: text must be one of {TEXT_FIELDS}, not {text!r}")
        if noise_seconds < 0:
            raise InputError(f"speech renderer: noise_seconds must be >= 0, not {noise_seconds}")
        self.text_field = text
        self.noise_seconds = float(noise_seconds)
        self.voice = settings.voice or DEFAULT_VOICES[settings.tts]

    def _text(self, item: Item) -> str:
        return getattr(item, self.text_field)

    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        recipe = {
            "tts": self.settings.tts,
            "engine": _engine_version(self.settings.tts),
            "voice": self.voice,
            "text": text_digest(self._text(item)),
            "rate": SAMPLE_RATE,
        }
        if self.noise_seconds:
            recipe.update(noise_seconds=self.noise_seconds, noise_dbfs=NOISE_DBFS, seed=self.settings.seed)
        return recipe

    def render(self, item: Item, dest: Path, bench: Path) -> None:
        import soundfile as sf

        speech = synthesize(self._text(item), self.settings.tts, self.voice)
        if self.noise_seconds:
            speech = np.concatenate([white_noise(self.noise_seconds, noise_seed(self.settings.seed, item.key)), speech])
        sf.write(str(dest), speech, SAMPLE_RATE, subtype="PCM_16", format="WAV")

    def verify(self, path: Path) -> None:
        import soundfile as sf

        info = sf.info(str(path))
        if info.samplerate != SAMPLE_RATE or info.channels != 1 or info.subtype != "PCM_16":
            raise ValueError(
                f"expected {SAMPLE_RATE} Hz mono PCM_16, found {info.samplerate} Hz, "
                f"{info.channels} channel(s), {info.subtype}"
            )
        data, _ = sf.read(str(path), dtype="int16")
        if data.size == 0:
            raise ValueError("no audio samples")

    def describe(self) -> dict:
        return {
            **super().describe(),
            "tts": self.settings.tts,
            "voice": self.voice,
            "sample_rate": SAMPLE_RATE,
            "noise_seconds": self.noise_seconds,
            **({"noise_dbfs": NOISE_DBFS} if self.noise_seconds else {}),
        }


def noise_seed(build_seed: int, item_key: str) -> int:
    """A seed per (build seed, item): stable across processes, unlike Python's hash()."""
    return int.from_bytes(hashlib.sha256(f"{build_seed}:{item_key}".encode()).digest()[:8], "little")


def white_noise(seconds: float, seed: int) -> np.ndarray:
    """int16 Gaussian white noise with an RMS of NOISE_DBFS."""
    rms = 32767.0 * 10 ** (NOISE_DBFS / 20)
    noise = np.random.default_rng(seed).normal(0.0, rms, int(round(seconds * SAMPLE_RATE)))
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


def synthesize(text: str, backend: str, voice: str) -> np.ndarray:
    """Speak `text`; returns int16 mono samples at SAMPLE_RATE."""
    samples, rate = _espeak(text, voice) if backend == "espeak" else _edge(text, voice)
    return _to_int16(_resample(samples, rate))


def _espeak(text: str, voice: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="va-espeak-") as tmp:
        wav = Path(tmp) / "speech.wav"
        try:
            proc = subprocess.run(
                ["espeak-ng", "-v", voice, "--stdin", "-w", str(wav)],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=120,
            )
        except FileNotFoundError:
            raise InputError("--tts espeak: espeak-ng is not installed (Debian: apt-get install espeak-ng)") from None
        if proc.returncode != 0 or not wav.exists():
            raise RuntimeError(
                f"espeak-ng failed (voice {voice!r}): {proc.stderr.decode(errors='replace').strip()[:200]}"
            )
        data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    return data.mean(axis=1), rate


def _edge(text: str, voice: str) -> tuple[np.ndarray, int]:
    import asyncio

    edge_tts = require_extra("edge_tts", "tts", "--tts edge (or --tts espeak, offline)", package="edge-tts")

    async def fetch() -> bytes:
        chunks = []
        async for chunk in edge_tts.Communicate(text, voice).stream():
            if chunk["type"] == "audio":
                chunks.append(chunk["data"])
        return b"".join(chunks)

    try:
        mp3 = asyncio.run(fetch())
    except Exception as exc:  # network, DNS, TLS, service errors all surface differently
        raise RuntimeError(
            f"edge-tts failed ({type(exc).__name__}: {str(exc)[:120]}); it needs network access, "
            "use --tts espeak for an offline build"
        ) from None
    if not mp3:
        raise RuntimeError(f"edge-tts returned no audio for voice {voice!r}; use --tts espeak for an offline build")
    return _decode_mp3(mp3)


def _decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """edge-tts sends MP3; decode it to float mono at its own rate (soxr resamples later)."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        to_mono = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        frames = [out.to_ndarray()[0] for frame in container.decode(stream) for out in to_mono.resample(frame)]
        frames += [out.to_ndarray()[0] for out in to_mono.resample(None)]
    return np.concatenate(frames), rate


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples
    import soxr

    return soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ")


def _to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)


@cache
def _engine_version(backend: str) -> str:
    """The TTS engine's version goes into recipes: a new engine speaks differently."""
    if backend == "espeak":
        try:
            out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, timeout=30).stdout
        except FileNotFoundError:
            raise InputError("--tts espeak: espeak-ng is not installed (Debian: apt-get install espeak-ng)") from None
        return out.split(" Data at")[0].strip()
    from importlib.metadata import PackageNotFoundError, version

    try:
        return "edge-tts " + version("edge-tts")
    except PackageNotFoundError:
        return "edge-tts (not installed)"
