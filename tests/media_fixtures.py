"""Real media files for backend tests: a PNG, an H.264 mp4 whose frames get brighter in order, wav/flac audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_png(path: Path, size: tuple[int, int] = (48, 32)) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, format="PNG")
    return path


def write_video(path: Path, frames: int = 24, size: int = 64, fps: int = 8) -> Path:
    """Frame i is a flat grey of level 10 * i, so sampled frames must come out brighter in order."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.full((size, size, 3), 10 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio(path: Path, rate: int = 8000, seconds: float = 0.5, fmt: str = "WAV") -> Path:
    import soundfile as sf

    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format=fmt, subtype="PCM_16")
    return path
