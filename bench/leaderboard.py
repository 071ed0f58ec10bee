"""Leaderboard build at scale: 30 models x 12 tasks x 972 samples of synthetic summaries + responses.

Prints our build time and index.html size (targets: under 15 s, index under 1 MB) against the naive
way, measured in the same run: one index.html with every sample rendered inline as escaped HTML.

    .venv/bin/python bench/leaderboard.py [--models 30] [--samples 972] [--keep DIR]
"""

from __future__ import annotations

import argparse
import html
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leaderboard.results import find_summaries, load_summary
from leaderboard.samples import read_responses
from leaderboard.site import build_site
from tests.leaderboard_data import random_verdicts, write_run
from va_safetybench.taskspec import TASKS


def make_runs(root: Path, models: int, samples: int) -> None:
    rng = random.Random(0)
    for m in range(models):
        write_run(
            root / f"m{m:02d}",
            f"hf:org/model-{m:02d}",
            random_verdicts(rng, list(TASKS), samples, rng.uniform(0.05, 0.6)),
            capability={"mmmu": {"acc": rng.uniform(0.2, 0.6)}},
            random_weights=m % 10 == 0,
        )


def naive_site(runs, out: Path) -> int:
    """Everything in one page: the obvious way, and what the lazy sample files avoid."""
    out.mkdir(parents=True, exist_ok=True)
    parts = ["<!doctype html><table>"]
    for run in runs:
        for task, recs in read_responses(run).items():
            for r in recs:
                parts.append(
                    f"<tr><td>{html.escape(run.model)}<td>{html.escape(task)}<td>{html.escape(str(r.prompt))}"
                    f"<td>{html.escape(str(r.response))}<td>{html.escape(str(r.verdict))}</tr>"
                )
    text = "".join(parts)
    (out / "index.html").write_text(text, encoding="utf-8")
    return len(text.encode())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--samples", type=int, default=972)
    ap.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = a.keep or Path(tmp)
        t = time.perf_counter()
        make_runs(root / "runs", a.models, a.samples)
        print(
            f"synthetic data: {a.models} models x {len(TASKS)} tasks x {a.samples} samples "
            f"in {time.perf_counter() - t:.1f} s"
        )
        t, c = time.perf_counter(), time.process_time()
        runs = [load_summary(p) for p in find_summaries([root / "runs"])]
        info = build_site(runs, root / "site")
        ours, ours_cpu = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        naive_bytes = naive_site(runs, root / "naive")
        naive, naive_cpu = time.perf_counter() - t, time.process_time() - c
        # CPU time too: on a shared machine the wall clock also measures the neighbours
        print(
            f"ours : build {ours:.2f} s wall, {ours_cpu:.2f} s CPU (target < 15 s); index.html "
            f"{info.index_bytes / 1e3:.1f} kB (target < 1 MB); {info.pages} pages, {info.sample_files} lazy sample files"
        )
        print(
            f"naive: build {naive:.2f} s wall, {naive_cpu:.2f} s CPU; index.html {naive_bytes / 1e6:.1f} MB (all samples inline)"
        )
        print(
            f"ratio: index size naive/ours {naive_bytes / info.index_bytes:.0f}x, build time naive/ours {naive / ours:.2f}x"
        )


if __name__ == "__main__":
    main()
