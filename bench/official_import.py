"""Speed of `va-bench build --media hub:DIR` on a full-size synthetic VA-SafetyBench release.

A release in the official layout is written first: video.zip (972 items x DM, TYPO, DM_TYPO mp4) and
audio.zip (972 x Audio_only, KPT, KPT_noise mp3), 5,832 members under one leading folder (tiny files: the
figure is the per-file overhead of indexing, copying, CRC and decoding, not of large media). Measured in
one run, each as the user runs it (a `va-bench build` process):
  1. the first import into a fresh bench (index, sha256 of each zip, copy + decode of every member),
  2. the same build again (a no-op rebuild: every file up to date, the archives' directories read only).
Prints both times, files/s of the import and the ratio first import / no-op rebuild. Usage:
    python bench/official_import.py [--source DIR] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.official_release import mp3_bytes, mp4_bytes  # noqa: E402
from va_safetybench.sources import load_items  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def write_release(folder: Path, source: str) -> int:
    items = [i for i in load_items(source, ("va",)) if i.benchmark == "va"]
    video, audio = mp4_bytes(1), mp3_bytes(1)
    count = 0
    for name, top, variants, data in (
        ("video.zip", "Video", ("DM", "TYPO", "DM_TYPO"), video),
        ("audio.zip", "Audio", ("Audio_only", "KPT", "KPT_noise"), audio),
    ):
        ext = "mp4" if top == "Video" else "mp3"
        with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_STORED) as zf:
            for item in items:
                for variant in variants:
                    zf.writestr(f"VA-SafetyBench/{top}/{item.scenario}/{variant}/{item.id}.{ext}", data)
                    count += 1
    return count


def timed_build(source: str, release: Path, bench: Path, jobs: int) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "va_safetybench.cli", "build", "--source", source, "--out", str(bench)]
    cmd += ["--tasks", "va_safetybench", "--media", f"hub:{release}", "--jobs", str(jobs)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"build failed: {proc.stderr.strip().splitlines()[-1:]}")
    return elapsed, proc.stdout.splitlines()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=str(SHARED), help="the official question files (default: ../shared/data)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="va-official-import-") as tmp:
        release = Path(tmp) / "release"
        release.mkdir()
        files = write_release(release, args.source)
        first, line1 = timed_build(args.source, release, Path(tmp) / "bench", args.jobs)
        again, line2 = timed_build(args.source, release, Path(tmp) / "bench", args.jobs)
    print(f"release: {files} members (video.zip + audio.zip, 972 items x 6 types); --jobs {args.jobs}")
    print(f"first import : {first:7.2f} s  ({files / first:6.1f} files/s)   [{line1}]")
    print(f"no-op rebuild: {again:7.2f} s                       [{line2}]")
    print(f"ratio first import / no-op rebuild: {first / again:.1f}x")


if __name__ == "__main__":
    main()
