"""A small offline bench for the harness tests: demo questions, 2 scenarios x 1 item, real media."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from va_safetybench.cli import main

# One torch thread: on a shared 2-core machine, OpenMP threads spin-waiting for each other make tiny-model
# generation 5-30x slower (measured 0.5 s vs 2-19 s per request under load); subprocesses get the same.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module", autouse=False)
def one_torch_thread():
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


OFFLINE_TASKS = "va_video_text_only,va_video_typo,va_audio_text_only,va_audio_only,va_audio_kpt,va_audio_kpt_noise,mmsb_text_only,mmsb_typo"
UNAVAILABLE_TASKS = "va_video_dm,mmsb_sd,mmsb_sd_typo"  # built with --dm none / --sd none


def build_small_bench(
    out: Path,
    tasks: str = OFFLINE_TASKS + "," + UNAVAILABLE_TASKS,
    scenarios: str | None = "1,2",
    limit: int | None = 1,
) -> Path:
    args = ["build", "--source", "demo", "--out", str(out), "--tasks", tasks, "--jobs", "1"]
    if scenarios:
        args += ["--scenarios", scenarios]
    if limit:
        args += ["--limit", str(limit)]
    assert main(args) == 0
    return out


def manifest(bench: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (bench / "manifests" / f"{task}.jsonl").read_text().splitlines()]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
