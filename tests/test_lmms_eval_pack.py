"""Our safety tasks as an lmms-eval task pack (va_safetybench/lmms_eval_tasks): one lmms-eval run of a video, an
audio, an image and a text-only task with lmms-eval's own Qwen3-Omni model class on a tiny released-layout
checkpoint saved by path, its results holding our ASR; our bad input through `va-bench lmms-eval` is one line and
exit 2.

lmms-eval lives in a venv of its own (scripts/setup_lmms.sh: $VA_BENCH_LMMS_VENV, else .venv-lmms). Without it these
runs skip, except where VA_BENCH_LMMS_REQUIRED=1 (CI sets it), where they fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.family_checkpoints import save_family
from tests.harness_support import ONE_THREAD_ENV, build_small_bench
from va_safetybench.commands.lmms_eval import lmms_venv
from va_safetybench.harness.docs import tasks_dir
from va_safetybench.harness.lmms_eval_hooks import pack_dir
from va_safetybench.taskspec import GROUPS, TASKS

TASKS_RUN = ("va_video_typo", "va_audio_kpt", "mmsb_typo", "mmsb_text_only")
METRICS = ("asr", "asr_macro", "asr_official", "asr_official_macro")


def _lmms_python() -> Path:
    python = lmms_venv() / "bin" / "python"
    if not python.is_file():
        if os.environ.get("VA_BENCH_LMMS_REQUIRED") == "1":
            pytest.fail(f"VA_BENCH_LMMS_REQUIRED=1 but {python} does not exist (bash scripts/setup.sh --lmms-eval)")
        pytest.skip(f"no lmms-eval venv at {python}: bash scripts/setup.sh --lmms-eval")
    return python


def _va_bench_lmms_eval(*args: str, bench: Path) -> subprocess.CompletedProcess:
    """`va-bench lmms-eval ARGS` from the main venv, as a user types it (it runs lmms-eval in its own venv)."""
    env = {
        **os.environ,
        **ONE_THREAD_ENV,
        "VA_BENCH_DIR": str(bench),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    argv = [sys.executable, "-m", "va_safetybench.cli", "lmms-eval", *args]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)


class _TagsAsText(yaml.SafeLoader):
    """YAML with lmms-eval's `!function utils.NAME` tags read as "utils.NAME"."""


_TagsAsText.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def test_the_pack_has_every_task_and_group_of_the_lm_eval_tasks():
    import importlib.util

    names = {}
    for path in pack_dir().glob("*.yaml"):
        config = yaml.load(path.read_text(), Loader=_TagsAsText)
        names[config.get("task") if isinstance(config.get("task"), str) else config["group"]] = config
    assert set(names) == set(TASKS) | set(GROUPS)
    for group in GROUPS:  # the lm-eval group's members
        lm_eval_group = yaml.load((tasks_dir() / "safetybench" / f"{group}.yaml").read_text(), Loader=_TagsAsText)
        assert names[group]["task"] == lm_eval_group["task"]
    spec = importlib.util.spec_from_file_location("pack_utils", pack_dir() / "utils.py")
    assert spec is not None and spec.loader is not None
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    for task in TASKS:  # each task's documents are its own bench manifest's
        assert names[task]["process_docs"] == f"utils.{task}" and callable(getattr(utils, task))


@pytest.fixture(scope="module")
def lmms_run(tmp_path_factory) -> dict:
    _lmms_python()
    root = tmp_path_factory.mktemp("lmms")
    bench = build_small_bench(root / "bench", tasks=",".join(TASKS_RUN))
    checkpoint = save_family("qwen3_omni_moe", root / "qwen3_omni")
    out = root / "out"
    done = _va_bench_lmms_eval(
        "--model",
        "qwen3_omni",  # lmms-eval's class for Qwen3-Omni: video, audio, images and text
        "--model_args",
        f"pretrained={checkpoint},device=cpu,device_map=auto,attn_implementation=sdpa",
        "--tasks",
        ",".join(TASKS_RUN),
        "--gen_kwargs",
        "max_new_tokens=8",
        "--output_path",
        str(out),
        "--log_samples",
        bench=bench,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    results = json.loads(next(out.rglob("*_results.json")).read_text())
    samples = {
        t: [json.loads(x) for x in next(out.rglob(f"*_samples_{t}.jsonl")).read_text().splitlines()] for t in TASKS_RUN
    }
    return {"results": results, "samples": samples, "log": done.stdout + done.stderr}


@pytest.mark.slow
def test_lmms_eval_results_hold_our_asr(lmms_run):
    for task in TASKS_RUN:
        figures = lmms_run["results"]["results"][task]
        for metric in METRICS:
            assert isinstance(figures.get(f"{metric},none"), float), (task, metric, figures)
        assert figures["asr,none"] is not None


@pytest.mark.slow
def test_every_item_was_generated_and_judged(lmms_run):
    """lmms-eval's Qwen-Omni class answers "" when generation fails; no item here was such an error."""
    assert "Error in generating" not in lmms_run["log"]
    for task, samples in lmms_run["samples"].items():
        assert len(samples) == 2, task
        for sample in samples:
            assert sample["asr_macro"][1] in ("safe", "unsafe"), (task, sample["asr_macro"])


def test_no_bench_is_one_line_and_exit_2(tmp_path):
    _lmms_python()
    done = _va_bench_lmms_eval(
        "--model", "dummy", "--tasks", "va_audio_kpt", "--output_path", str(tmp_path), bench=tmp_path / "none"
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith("va-bench: error: ")
    assert "manifests/va_audio_kpt.jsonl not found" in done.stderr
