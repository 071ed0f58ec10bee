"""A small official release written in the tests, in the layout the official scripts read.

VA-SafetyBench: `video.zip` (VA-SafetyBench/Video/{scenario}/{DM|TYPO|DM_TYPO}/{id}.mp4) and `audio.zip`
(VA-SafetyBench/Audio/{scenario}/{Audio_only|KPT|KPT_noise}/{id}.mp3, 24 kHz mp3 as edge-tts writes), each
under one leading folder; MM-SafetyBench: an unzipped `MM-SafetyBench/imgs/{scenario}/{SD|TYPO|SD_TYPO}/{id}.jpg`.
Every member's bytes differ, so a copy of the wrong member cannot pass a byte comparison.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

VA_VIDEO = ("DM", "TYPO", "DM_TYPO")
VA_AUDIO = ("Audio_only", "KPT", "KPT_noise")
MM_IMAGE = ("SD", "TYPO", "SD_TYPO")
VA_SCENARIOS = ("1-IllegalActivitiy", "2-HateSpeech")
MM_SCENARIOS = ("01-Illegal_Activitiy", "02-HateSpeech")
IDS = ("0", "1")
ARGS = ("--scenarios", "1,2", "--limit", "2")  # the build arguments selecting exactly these items


def mp4_bytes(seed: int, frames: int = 6, size: int = 32) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.full((size, size, 3), (seed * 37 + i * 20) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def mp3_bytes(seed: int, rate: int = 24000, seconds: float = 0.3) -> bytes:
    import soundfile as sf

    t = np.arange(int(rate * seconds)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.4 * np.sin(2 * np.pi * (300 + 10 * seed) * t)).astype(np.float32), rate, format="MP3")
    return buf.getvalue()


def jpg_bytes(seed: int, size: tuple[int, int] = (40, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (seed * 13 % 256, 90, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def write_release(
    root: Path, skip: frozenset[str] | set[str] = frozenset(), junk: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    """Write the release under `root`; returns {release-relative path: bytes}. `skip` leaves members out,
    `junk` replaces their bytes."""
    root.mkdir(parents=True, exist_ok=True)
    members: dict[str, bytes] = {}
    seed = 0
    for top, variants, scenarios, make in (
        ("Video", VA_VIDEO, VA_SCENARIOS, mp4_bytes),
        ("Audio", VA_AUDIO, VA_SCENARIOS, mp3_bytes),
        ("imgs", MM_IMAGE, MM_SCENARIOS, jpg_bytes),
    ):
        ext = {"Video": "mp4", "Audio": "mp3", "imgs": "jpg"}[top]
        for scenario in scenarios:
            for variant in variants:
                for item_id in IDS:
                    seed += 1
                    members[f"{top}/{scenario}/{variant}/{item_id}.{ext}"] = make(seed)
    for name, data in (junk or {}).items():
        members[name] = data
    for name in skip:
        members.pop(name)
    for zip_name, top in (("video.zip", "Video/"), ("audio.zip", "Audio/")):
        with zipfile.ZipFile(root / zip_name, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("VA-SafetyBench/", b"")
            for name, data in members.items():
                if name.startswith(top):
                    zf.writestr(f"VA-SafetyBench/{name}", data)
    for name, data in members.items():
        if name.startswith("imgs/"):
            path = root / "MM-SafetyBench" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return members


def bench_path(release_path: str) -> str:
    """Where the bench keeps a release member: imgs/ becomes Image/, everything else keeps its path."""
    return "Image/" + release_path[len("imgs/") :] if release_path.startswith("imgs/") else release_path
