"""Benign twins of the multimodal attacks: harmless key phrases through the same renderers and prompts.

The question set is the `benign` source (data/benign/, official schema, the canonical prompt
templates); `va-bench build --source benign --out BENCH/benign --tasks va_video_typo,va_audio_kpt,mmsb_typo`
renders it exactly as the harmful tasks are rendered. Each over-refusal task reads the manifest of
its harmful twin from that benign bench, found at: task metadata `benign_bench`, else the env var
VA_BENIGN_BENCH, else `<bench>/benign` (bench as for the safety tasks). A bench built from the
harmful sets (source official or demo) is refused: its refusal rate would be a safety score.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..harness.docs import BENCH_ENV, task_docs

BENIGN_ENV = "VA_BENIGN_BENCH"
TWINS = {"benign_video_typo": "va_video_typo", "benign_audio_kpt": "va_audio_kpt", "benign_image_typo": "mmsb_typo"}


def benign_bench(metadata: dict[str, Any]) -> Path:
    chosen = metadata.get("benign_bench") or os.environ.get(BENIGN_ENV)
    if not chosen:
        bench = metadata.get("bench") or os.environ.get(BENCH_ENV)
        if not bench:
            raise InputError(
                f"no benign bench: pass --metadata '{{\"benign_bench\": DIR}}' or set {BENIGN_ENV}; make "
                f"one with `va-bench build --source benign --out DIR --tasks {','.join(TWINS.values())}`"
            )
        chosen = Path(str(bench)) / "benign"
    path = Path(str(chosen)).expanduser().resolve()
    info = path / "bench.json"
    if info.is_file() and json.loads(info.read_text()).get("source") in ("official", "demo"):
        raise InputError(
            f"{path} was built from the harmful questions; build the benign twins with "
            f"`va-bench build --source benign --out DIR`"
        )
    return path


def load_dataset(benign_task: str, **metadata: Any):
    import datasets

    bench, twin = benign_bench(metadata), TWINS[benign_task]
    if not (bench / "manifests" / f"{twin}.jsonl").is_file():
        raise InputError(
            f"{bench}/manifests/{twin}.jsonl not found: run "
            f"`va-bench build --source benign --tasks {twin} --out {bench}` first"
        )
    docs = [{**doc, "task": benign_task} for doc in task_docs(bench, twin)]  # errors name the task the user ran
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})
