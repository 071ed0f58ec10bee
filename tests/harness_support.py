"""A small offline bench for the harness tests: demo questions, 2 scenarios x 1 item, real media."""

from __future__ import annotations

import json
from pathlib import Path

from va_safetybench.cli import main

OFFLINE_TASKS = "va_video_text_only,va_video_typo,va_audio_text_only,va_audio_only,va_audio_kpt,va_audio_kpt_noise,mmsb_text_only,mmsb_typo"
UNAVAILABLE_TASKS = "va_video_dm,mmsb_sd,mmsb_sd_typo"  # built with --dm none / --sd none


def build_small_bench(out: Path, tasks: str = OFFLINE_TASKS + "," + UNAVAILABLE_TASKS, scenarios: str | None = "1,2",
                      limit: int | None = 1) -> Path:
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
