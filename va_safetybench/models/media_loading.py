"""Read media files the way each model's official evaluation code does.

Video follows qwen-vl-utils (`fetch_video`, used by Qwen2-VL's official evaluation and by
VA-SafetyBench's scripts): frames are sampled at `fps` (default 2) with the frame count clamped to
[4, min(768, total)] and rounded to a multiple of 2 (the temporal patch), at indices
`linspace(0, total - 1, n).round()`; each frame is resized with bicubic antialiasing to the
`smart_resize` size: height and width multiples of 28 whose product stays within
[`min_pixels`, `max_pixels`] (default max 360*420, the official scripts' setting, and min 128*28*28).
Images are returned as PIL RGB (the processor resizes them). Audio is decoded with librosa
(soundfile, audioread fallback) to mono float32 at the processor's sampling rate, as
Qwen2-Audio's official evaluation does.

Any unreadable, empty or corrupt file raises `MediaError`, which the backend turns into a
`GenerationError` for that request only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .. import limits

VIDEO_FPS = 2.0
VIDEO_MAX_PIXELS = 360 * 420
VIDEO_MIN_PIXELS = 128 * 28 * 28
FRAME_FACTOR = 2
MIN_FRAMES = 4
MAX_FRAMES = 768
IMAGE_FACTOR = 28


class MediaError(Exception):
    """A media file that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Video:
    """Sampled frames plus what the processor needs for temporal positions (Qwen2.5-VL's seconds per grid)."""

    frames: Any  # float tensor (T, 3, H, W), values 0-255
    total_frames: int
    video_fps: float
    indices: list[int]

    def metadata(self) -> Any:
        from transformers.video_utils import VideoMetadata

        return VideoMetadata(
            total_num_frames=self.total_frames,
            fps=self.video_fps,
            frames_indices=self.indices,
            height=int(self.frames.shape[2]),
            width=int(self.frames.shape[3]),
        )


def load_image(path: Path) -> Any:
    """PIL RGB image, fully decoded now so that a truncated file fails here and not in the processor."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except Exception as exc:  # PIL raises many types (OSError, SyntaxError, DecompressionBombError)
        raise MediaError(f"cannot read image {path}: {exc}") from exc


def smart_resize(
    height: int, width: int, min_pixels: int, max_pixels: int, factor: int = IMAGE_FACTOR
) -> tuple[int, int]:
    """qwen-vl-utils smart_resize: multiples of `factor`, pixel count within bounds, aspect kept."""
    if max(height, width) / min(height, width) > 200:
        raise MediaError(f"aspect ratio {max(height, width) / min(height, width):.0f} over 200")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def sample_count(total_frames: int, video_fps: float, fps: float = VIDEO_FPS) -> int:
    """Number of frames to sample: `fps` per second, clamped, rounded to a multiple of 2."""
    max_frames = math.floor(min(MAX_FRAMES, total_frames) / FRAME_FACTOR) * FRAME_FACTOR
    n = min(max(total_frames / video_fps * fps, MIN_FRAMES), max_frames)
    n = round(n / FRAME_FACTOR) * FRAME_FACTOR
    if not FRAME_FACTOR <= n <= total_frames:
        raise MediaError(f"video of {total_frames} frames is too short to sample {n} frames")
    return n


def decode_frames(
    path: Path, pick: Callable[[int, float], list[int]], keep: Callable[[Any], Any] = lambda frame: frame
) -> tuple[list[Any], int, float, list[int]]:
    """(kept frames, total frames, frame rate, their indices): the frames at the indices `pick(total, rate)`
    chooses, sampled while decoding. Each frame is decoded and dropped unless chosen; a chosen one becomes an RGB
    array (H, W, 3 uint8) passed through `keep` (a resize, say), so memory holds the chosen frames only. The total
    comes from the container's header; when the decoded count differs (a header that lies or says nothing) the
    frames are chosen again from the true count, in a second pass. Frames over limits.FRAME_PIXELS, or more of them
    than limits.VIDEO_FRAMES, are a MediaError before they are kept."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 0)
            if not rate:
                raise MediaError(f"cannot read video {path}: no frame rate")
            _check_frame_size(path, stream.codec_context.width, stream.codec_context.height)
            expected = int(stream.frames or 0) or _frames_from_duration(stream, rate)
            try:
                wanted: list[int] | None = pick(expected, rate) if expected else None
            except MediaError:  # too short by the header: decided again from the frames decoded
                wanted = None
            kept, total = _decode_pass(path, container, stream, set(wanted or ()), keep)
        if not total:
            raise MediaError(f"cannot read video {path}: no decodable frames")
        if wanted is None or total != expected:  # the header was wrong: choose from the true count, decode again
            wanted = pick(total, rate)
            with av.open(str(path)) as container:
                kept, _ = _decode_pass(path, container, container.streams.video[0], set(wanted), keep)
    except MediaError:
        raise
    except Exception as exc:  # av raises InvalidDataError, IndexError (no video stream), OSError
        raise MediaError(f"cannot read video {path}: {exc}") from exc
    return [kept[i] for i in wanted], total, rate, wanted


def _decode_pass(path: Path, container: Any, stream: Any, wanted: set[int], keep: Callable) -> tuple[dict, int]:
    max_frames = int(limits.VIDEO_FRAMES.value())
    kept: dict[int, Any] = {}
    total = 0
    for frame in container.decode(stream):
        if total >= max_frames:
            raise MediaError(
                f"video {path} has more than {max_frames:,} frames (${limits.VIDEO_FRAMES.variable}); not decoded further"
            )
        if total in wanted:
            _check_frame_size(path, frame.width, frame.height)
            kept[total] = keep(frame.to_ndarray(format="rgb24"))
        total += 1
    return kept, total


def _check_frame_size(path: Path, width: int, height: int) -> None:
    max_pixels = limits.FRAME_PIXELS.value()
    if width * height > max_pixels:
        raise MediaError(
            f"video {path} has {width}x{height} frames, over the {max_pixels:,.0f}-pixel limit "
            f"(${limits.FRAME_PIXELS.variable})"
        )


def _frames_from_duration(stream: Any, rate: float) -> int:
    """The frame count a stream's duration implies (0 when it records none)."""
    if stream.duration and stream.time_base:
        return max(0, round(float(stream.duration * stream.time_base) * rate))
    return 0


def load_video(
    path: Path, fps: float = VIDEO_FPS, max_pixels: int = VIDEO_MAX_PIXELS, min_pixels: int = VIDEO_MIN_PIXELS
) -> Video:
    """Sampled, resized frames (float, values 0-255) as fetch_video returns them, with sampling metadata; each
    frame is resized as soon as it is decoded (decode_frames), so memory holds only the sampled, resized frames."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import resize

    def pick(total: int, rate: float) -> list[int]:
        n = sample_count(total, rate, fps)
        return torch.linspace(0, total - 1, n).round().long().tolist()

    def shrink(frame: Any) -> Any:
        h, w = smart_resize(frame.shape[0], frame.shape[1], min_pixels, max_pixels)
        chw = torch.from_numpy(frame).permute(2, 0, 1)
        return resize(chw, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True)

    frames, total, rate, idx = decode_frames(path, pick, shrink)
    return Video(torch.stack(frames).float(), total, rate, idx)


def load_audio(path: Path | BinaryIO, sampling_rate: int, name: str | None = None) -> Any:
    """Mono float32 waveform at `sampling_rate` (the feature extractor's rate), from a file or an open binary
    stream of one (a data set's encoded bytes; `name` then says which in errors)."""
    import warnings

    import librosa
    import numpy as np

    source = path if hasattr(path, "read") else str(path)
    name = name or str(path)
    try:
        with warnings.catch_warnings():  # librosa warns when it falls back to audioread (mp3)
            warnings.simplefilter("ignore")
            wave, _ = librosa.load(source, sr=sampling_rate, mono=True)
    except Exception as exc:  # soundfile.LibsndfileError, audioread.NoBackendError, EOFError
        raise MediaError(f"cannot read audio {name}: {exc}") from exc
    if wave.size == 0 or not np.isfinite(wave).all():
        raise MediaError(f"cannot read audio {name}: empty or non-finite samples")
    return wave.astype(np.float32)
