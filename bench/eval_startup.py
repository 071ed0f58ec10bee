"""Cost of eval's media checks at start-up, on a full-size bench: 9 media tasks x 972 manifest lines.

Eval now refuses, before loading a model, any manifest line whose media resolves outside the bench,
is not a regular file, differs from its recorded sha256 or lasts too long (harness/media_paths.py).
Measured in one run, on one synthetic bench of real, decodable files (each task's sample file copied
to 972 paths, so every file is its own inode that must be stat'ed, read and hashed):
  1. today's load without checks: parse the manifests, `is_file()` per ok item (what task_docs did);
  2. the checked load, warm: every file verified before (by `va-bench build` or an earlier eval), so
     its stat signature matches the record and nothing is hashed; what every eval pays;
  3. the checked load, cold: no record (a copied or hand-made bench): every file hashed and its
     duration or size read from its header, once; the page cache holds the files (a first read from
     disk adds the disk's read time).
Prints seconds per load and the ratios 2/1 and 3/1. eval loads each task's documents twice (its own
check, then lm-eval's dataset), so its start-up pays (2) twice. Usage:
    python bench/eval_startup.py [--items 972] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from va_safetybench.harness import media_paths  # noqa: E402
from va_safetybench.harness.docs import task_docs  # noqa: E402
from va_safetybench.materialize.hashing import file_sha256  # noqa: E402
from va_safetybench.taskspec import TASKS  # noqa: E402

MEDIA_TASKS = [name for name, spec in TASKS.items() if spec.media is not None]
SCENARIOS = 8


def sample_media(folder: Path) -> dict[str, Path]:
    """One real file per media kind, of the size the built bench holds (seconds, frame size, codec)."""
    import soundfile as sf
    from PIL import Image

    from va_safetybench.media.video_io import write_video

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)

    def blobs(h: int, w: int) -> np.ndarray:  # smooth colour fields: compress like natural video, not like noise
        small = rng.integers(0, 255, (h // 32, w // 32, 3), dtype=np.uint8)
        return np.kron(small, np.ones((32, 32, 1), dtype=np.uint8))

    samples = {}
    samples["dm"] = folder / "dm.mp4"
    write_video((blobs(384, 640) for _ in range(24 * 4)), samples["dm"])  # 4 s, 640x384, 24 fps
    samples["typo"] = folder / "typo.mp4"
    write_video((np.zeros((384, 640, 3), np.uint8) for _ in range(24 * 6)), samples["typo"])
    samples["audio"] = folder / "speech.wav"
    sf.write(samples["audio"], (rng.standard_normal(16000 * 6) * 3000).astype(np.int16), 16000)  # 6 s, 16 kHz
    samples["sd"] = folder / "sd.jpg"
    Image.fromarray(np.kron(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), np.ones((16, 16, 1), np.uint8))).save(
        samples["sd"], quality=90
    )  # 1024x1024
    samples["typo_img"] = folder / "typo.jpg"
    Image.new("RGB", (1024, 300), "white").save(samples["typo_img"], quality=90)
    return samples


def sample_for(task: str, samples: dict[str, Path]) -> Path:
    spec = TASKS[task]
    if spec.modality == "audio":
        return samples["audio"]
    if spec.modality == "video":
        return samples["typo"] if task == "va_video_typo" else samples["dm"]
    return samples["typo_img"] if task == "mmsb_typo" else samples["sd"]


def make_bench(bench: Path, items: int) -> int:
    """Manifests of `items` lines per media task, each naming its own copy of the task's sample; returns bytes."""
    samples = sample_media(bench / "_samples")
    total = 0
    for task in MEDIA_TASKS:
        spec = TASKS[task]
        assert spec.media is not None
        sample = sample_for(task, samples)
        sha = file_sha256(sample)
        lines = []
        for i in range(items):
            scenario, item_id = f"{i % SCENARIOS + 1}-Scenario", str(i // SCENARIOS)
            rel = spec.media.relpath(scenario, item_id)
            (bench / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sample, bench / rel)
            total += sample.stat().st_size
            entry = {"task": task, "benchmark": spec.benchmark, "scenario": scenario, "id": item_id}
            entry.update({"prompt": "p", "modality": spec.modality, "media": rel, "sha256": sha, "status": "ok"})
            lines.append(json.dumps(entry) + "\n")
        (bench / "manifests").mkdir(exist_ok=True)
        (bench / "manifests" / f"{task}.jsonl").write_text("".join(lines))
    return total


def load_unchecked(bench: Path) -> int:
    """The load before the checks: parse every line, test that an ok item's file exists (old task_docs)."""
    count = 0
    for task in MEDIA_TASKS:
        for text in (bench / "manifests" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines():
            entry = json.loads(text)
            path = bench / entry["media"]
            if entry.get("status") == "ok" and not path.is_file():
                raise SystemExit(f"{path} missing")
            count += 1
    return count


def load_checked(bench: Path) -> int:
    return sum(len(task_docs(bench, task)) for task in MEDIA_TASKS)


def best_of(repeat: int, call) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=972, help="manifest lines per task (default: 972, VA's size)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per warm measurement; the best is reported")
    parser.add_argument("--keep", type=Path, default=None, help="build the bench here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="va-eval-startup-"))
    bench = (root / "bench").resolve()
    try:
        total = make_bench(bench, args.items)
        time.sleep(media_paths.RACY_SECONDS + 0.5)  # files written this instant are never remembered
        lines = load_unchecked(bench)
        print(f"bench: {len(MEDIA_TASKS)} tasks x {args.items} lines = {lines} media files, {total / 1e9:.2f} GB")

        record = bench / media_paths.VERIFIED_FILE
        record.unlink(missing_ok=True)
        start = time.perf_counter()
        load_checked(bench)
        cold = time.perf_counter() - start
        assert record.is_file(), "the cold load recorded nothing"
        unchecked = best_of(args.repeat, lambda: load_unchecked(bench))
        warm = best_of(args.repeat, lambda: load_checked(bench))
        print(f"1. load without checks (before):          {unchecked:7.3f} s")
        print(f"2. checked load, files verified before:   {warm:7.3f} s   ratio 2/1 = {warm / unchecked:5.2f}x")
        print(f"3. checked load, nothing verified (once): {cold:7.3f} s   ratio 3/1 = {cold / unchecked:5.2f}x")
        print(f"added per eval start-up (two loads, warm): {2 * (warm - unchecked):.3f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
