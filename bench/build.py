"""Speed of `va-bench build` over the offline media: one core vs all cores, full vs no-op rebuild.

Variants: TYPO video (va_video_typo), the three espeak audio tasks (Audio-only, KPT, KPT+Noise) and
the MM-SafetyBench TYPO images, on the first --limit items of every scenario. Measured in one run:
  1. each variant alone with --jobs 1 (seconds and bytes per file, the naive serial way),
  2. all variants together with --jobs N (default: all cores) into a fresh directory,
  3. the same build again (every file up to date: the no-op rebuild).
Prints files/s serial vs parallel and their ratio, the no-op vs full ratio, and an EXTRAPOLATION to
the full benchmarks (972 VA items, 1,680 MM items) from the per-file times. Usage:
    python bench/build.py [--source DIR|demo] [--limit 2] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from va_safetybench.commands.build import select_items
from va_safetybench.materialize.runner import build
from va_safetybench.materialize.settings import BuildSettings
from va_safetybench.sources import load_items

TASKS = ("va_video_typo", "va_audio_only", "va_audio_kpt", "va_audio_kpt_noise", "mmsb_typo")
FULL_ITEMS = {"va": 972, "mmsb": 1680}  # official VA-SafetyBench and MM-SafetyBench sizes
SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def timed_build(items, tasks, out: Path, jobs: int) -> tuple[float, int]:
    start = time.perf_counter()
    report = build(items, list(tasks), out, BuildSettings(tts="espeak"), jobs)
    elapsed = time.perf_counter() - start
    if report.failed or report.unavailable:
        raise SystemExit(f"build failed: {report.failed[:3]} {report.unavailable}")
    return elapsed, report.rendered


def media_bytes(root: Path) -> int:
    return sum(p.stat().st_size for top in ("Video", "Audio", "Image") for p in (root / top).rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=str(SHARED) if SHARED.is_dir() else "demo")
    ap.add_argument("--limit", type=int, default=2, help="items per scenario (default 2)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    items = select_items(load_items(args.source, ("va", "mmsb")), None, args.limit)

    with tempfile.TemporaryDirectory(prefix="va-bench-build-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"source {args.source}, {args.limit} item(s) per scenario, {os.cpu_count()} core(s) seen")
        print(f"{'variant':<20} {'files':>5} {'s/file (1 core)':>16} {'KiB/file':>9}")
        per_file: dict[str, float] = {}
        serial_s, serial_n = 0.0, 0
        for task in TASKS:
            seconds, n = timed_build(items, (task,), tmp / f"serial-{task}", jobs=1)
            per_file[task] = seconds / n
            serial_s, serial_n = serial_s + seconds, serial_n + n
            print(f"{task:<20} {n:>5} {seconds / n:>16.3f} {media_bytes(tmp / f'serial-{task}') / n / 1024:>9.1f}")

        parallel_s, parallel_n = timed_build(items, TASKS, tmp / "parallel", jobs=args.jobs)
        noop_s, noop_n = timed_build(items, TASKS, tmp / "parallel", jobs=args.jobs)
        assert parallel_n == serial_n and noop_n == 0

    print(
        f"\nserial (--jobs 1, one variant at a time): {serial_n} files in {serial_s:.1f}s = {serial_n / serial_s:.1f} files/s"
    )
    print(
        f"parallel (--jobs {args.jobs}, all variants):      {parallel_n} files in {parallel_s:.1f}s = "
        f"{parallel_n / parallel_s:.1f} files/s"
    )
    print(f"parallel speedup: {serial_s / parallel_s:.2f}x")
    print(
        f"no-op rebuild: {noop_s:.2f}s vs full {parallel_s:.1f}s = {parallel_s / noop_s:.0f}x faster "
        f"({noop_s / parallel_s:.3f} of the full build)"
    )

    speedup = serial_s / parallel_s
    counts = {t: FULL_ITEMS["mmsb" if t.startswith("mmsb") else "va"] for t in TASKS}
    one_core = sum(counts[t] * per_file[t] for t in TASKS)
    print(
        f"\nEXTRAPOLATION (not measured): all {FULL_ITEMS['va']} VA items x 4 variants + {FULL_ITEMS['mmsb']} "
        f"MM TYPO images = {sum(counts.values())} files: ~{one_core / 60:.1f} min on one core, "
        f"~{one_core / speedup / 60:.1f} min with --jobs {args.jobs} at the measured {speedup:.2f}x speedup"
    )


if __name__ == "__main__":
    main()
