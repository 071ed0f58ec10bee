"""MP4 writing and reading for the VA-SafetyBench video tasks.

Every video we write is H.264 (libx264, yuv420p, CRF 18, `+faststart`) at 640x384 and
24 fps, the size and rate of the paper's Pyramid Flow videos, so that one file plays in
browsers and decodes with PyAV, OpenCV and TorchCodec alike. PyAV's wheels bundle an FFmpeg
with libx264; if a build lacks it we pipe raw frames to imageio-ffmpeg's ffmpeg binary instead.

Readers: torchvision 0.29 no longer decodes video (`torchvision.io.read_video` and
`VideoReader` were removed; TorchCodec is their successor and needs the system's FFmpeg
libraries), so decoding here is PyAV's.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

WIDTH = 640
HEIGHT = 384
FPS = 24
CRF = 18  # visually lossless: typography stays sharp, static frames cost almost nothing


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int  # frames actually decoded


def write_video(frames: Iterable[np.ndarray], dest: Path, fps: int = FPS) -> int:
    """Encode RGB uint8 frames (H x W x 3, all one size) to H.264 MP4; returns the frame count."""
    import av

    if "libx264" not in av.codec.codecs_available:
        return _write_with_ffmpeg_binary(frames, dest, fps)
    count = 0
    with av.open(str(dest), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(CRF), "preset": "medium"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(_rgb(frame), format="rgb24")):
                container.mux(packet)
            count += 1
        if stream is None:
            raise ValueError("no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    return count


def _write_with_ffmpeg_binary(frames: Iterable[np.ndarray], dest: Path, fps: int) -> int:
    import imageio_ffmpeg

    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError("no frames to write")
    height, width = first.shape[:2]
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        str(fps),
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        str(CRF),
        "-preset",
        "medium",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(dest),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None  # stdin=PIPE
    count = 0
    for frame in itertools.chain([first], iterator):
        proc.stdin.write(_rgb(frame).tobytes())
        count += 1
    _, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed: {err.decode(errors='replace')[-300:]}")
    return count


def _rgb(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 frame, got {frame.dtype} {frame.shape}")
    return np.ascontiguousarray(frame)


def read_frames(path: Path) -> tuple[np.ndarray, float]:
    """All frames of the first video stream as (N, H, W, 3) uint8 RGB, and the stream's fps."""
    frames, fps = [], 0.0
    for frame, fps in _decode(path):  # noqa: B007  (the stream's fps: the last value is the one kept)
        frames.append(frame)
    if not frames:
        raise ValueError("no video frames")
    return np.stack(frames), fps


def probe(path: Path) -> VideoInfo:
    """Decode every frame (a truncated file cannot pass) and report size, fps and count."""
    count, width, height, fps = 0, 0, 0, 0.0
    for frame, fps in _decode(path):  # noqa: B007  (the stream's fps: the last value is the one kept)
        height, width = frame.shape[:2]
        count += 1
    if not count:
        raise ValueError("no video frames")
    return VideoInfo(width, height, fps, count)


def probe_standard(path: Path) -> VideoInfo:
    """`probe`, and raise ValueError unless the video is 640x384 at 24 fps."""
    info = probe(path)
    if (info.width, info.height) != (WIDTH, HEIGHT) or round(info.fps) != FPS:
        raise ValueError(f"{info.width}x{info.height} at {info.fps:g} fps, expected {WIDTH}x{HEIGHT} at {FPS} fps")
    return info


def _decode(path: Path):
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            expected = stream.frames  # from the MP4 sample table; 0 when the container doesn't say
            count = 0
            for frame in container.decode(stream):
                count += 1
                yield frame.to_ndarray(format="rgb24"), fps
            if expected and count != expected:
                raise ValueError(f"decoded {count} of {expected} frames (truncated or corrupt)")
    except av.error.FFmpegError as exc:
        raise ValueError(f"cannot decode ({exc})") from None


def letterbox(frame: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Scale to fit inside width x height keeping the aspect ratio; pad with black."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    from PIL import Image

    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(frame).resize((new_w, new_h), Image.Resampling.LANCZOS))
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out


def conform(frames: np.ndarray, src_fps: float, fps: int = FPS) -> list[np.ndarray]:
    """Frames letterboxed to 640x384 and re-timed from `src_fps` to `fps` (same duration)."""
    if src_fps <= 0:
        raise ValueError("source video has no frame rate")
    n_out = max(1, round(len(frames) * Fraction(fps) / Fraction(src_fps).limit_denominator(1001)))
    picks = [min(len(frames) - 1, int(k * src_fps / fps)) for k in range(n_out)]
    return [letterbox(frames[i]) for i in picks]
