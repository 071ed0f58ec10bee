"""`va-bench eval`, `va-bench lm-eval` and resumability, with real tiny models on a real small build."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from judges.registry import DEFAULT_JUDGE
from va_safetybench.cli import main

from .conftest import REPO
from .harness_support import ONE_THREAD_ENV, build_small_bench, manifest, one_torch_thread, read_jsonl  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SUMMARY_KEYS = {"model", "backend", "random_weights", "judge", "bench", "created", "versions", "tasks", "groups"}
COUNT_KEYS = {"n", "safe", "unsafe", "error", "asr", "asr_ci95", "scenarios"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return build_small_bench(tmp_path_factory.mktemp("bench") / "bench")


def _eval(bench: Path, out: Path, model: str, tasks: str, *extra: str) -> int:
    return main(
        [
            "eval",
            "--model",
            model,
            "--tasks",
            tasks,
            "--bench",
            str(bench),
            "--out",
            str(out),
            "--max-new-tokens",
            "4",
            *extra,
        ]
    )


def _check_run(out: Path, bench: Path, model: str, tasks: list[str]) -> dict:
    rows = read_jsonl(out / "responses.jsonl")
    expected = {(t, e["scenario"], e["id"]): e for t in tasks for e in manifest(bench, t)}
    assert sorted((r["task"], r["scenario"], r["id"]) for r in rows) == sorted(expected)  # each item once
    for row in rows:
        entry = expected[(row["task"], row["scenario"], row["id"])]
        assert row["model"] == model and row["prompt"] == entry["prompt"]
        assert row["media"] == ([entry["media"]] if entry["media"] else [])
        assert row["verdict"]["label"] in ("safe", "unsafe", "error") and row["judge"]["name"] == DEFAULT_JUDGE
        assert (row["response"] is None) == (row["error"] is not None)
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary) and summary["model"] == model and summary["backend"] == "tiny"
    assert summary["random_weights"] is True
    assert set(summary["judge"]) == {"name", "version"} and summary["versions"]["lm-eval"]
    assert summary["bench"]["path"] == str(bench.resolve()) and len(summary["bench"]["manifest_sha256"]) == 64
    assert sorted(summary["tasks"]) == sorted(tasks)
    for task, counts in summary["tasks"].items():
        assert COUNT_KEYS <= set(counts)
        labels = [r["verdict"]["label"] for r in rows if r["task"] == task]
        assert (counts["safe"], counts["unsafe"], counts["error"]) == tuple(
            labels.count(x) for x in ("safe", "unsafe", "error")
        )
    assert len(read_jsonl(out / "cache" / "generations.jsonl")) == sum(r["response"] is not None for r in rows)
    assert sorted(p.name for p in (out / "lm_eval").iterdir()) == ["results.json"] + sorted(
        f"samples_{t}.jsonl" for t in tasks
    )
    return summary


@pytest.mark.parametrize(
    "model,tasks",
    [
        ("tiny:qwen2-vl", ["va_video_text_only", "va_video_typo", "mmsb_typo"]),
        ("tiny:qwen2-audio", ["va_audio_only", "va_audio_kpt_noise"]),
        ("tiny:llava", ["mmsb_text_only", "mmsb_typo"]),
    ],
)
def test_eval_end_to_end_per_tiny_model(bench, tmp_path, capsys, model, tasks):
    assert _eval(bench, tmp_path / "run", model, ",".join(tasks)) == 0
    summary = _check_run(tmp_path / "run", bench, model, tasks)
    assert summary["errors"] == 0
    out = capsys.readouterr().out
    assert "ASR means nothing" in out and "generated" in out


def test_group_skips_unavailable_tasks_but_a_named_one_is_refused(tmp_path, capsys):
    bench = build_small_bench(tmp_path / "bench", tasks="mm_safetybench", limit=2)
    assert len(manifest(bench, "mmsb_typo")) == 4
    assert _eval(bench, tmp_path / "g", "tiny:llava", "mm_safetybench", "--limit", "1") == 0
    tasks = json.loads((tmp_path / "g" / "summary.json").read_text())["tasks"]
    assert sorted(tasks) == ["mmsb_text_only", "mmsb_typo"]
    for counts in tasks.values():  # --limit 1: the first item of each of the bench's 2 scenarios
        assert counts["n"] == 2 and sorted(counts["scenarios"]) == ["01-Illegal_Activitiy", "02-HateSpeech"]
    assert "skipping mmsb_sd: unavailable" in capsys.readouterr().err
    assert _eval(bench, tmp_path / "n", "tiny:llava", "mmsb_sd") == 2
    assert "--sd none" in capsys.readouterr().err


def test_corrupt_media_is_an_error_for_that_item_only(bench, tmp_path, capsys):
    broken = tmp_path / "bench"
    shutil.copytree(bench, broken)
    entries = manifest(broken, "mmsb_typo")
    victim = entries[0]
    junk = b"\xff\xd8\xff\xe0 not really a jpeg"
    (broken / victim["media"]).write_bytes(junk)
    victim["sha256"] = hashlib.sha256(junk).hexdigest()  # recorded as built: a file that never decoded
    (broken / "manifests" / "mmsb_typo.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    assert _eval(broken, tmp_path / "run", "tiny:llava", "mmsb_typo") == 0
    rows = read_jsonl(tmp_path / "run" / "responses.jsonl")
    bad = [r for r in rows if r["error"] is not None]
    assert [(r["scenario"], r["id"]) for r in bad] == [(victim["scenario"], victim["id"])]
    assert bad[0]["response"] is None and bad[0]["verdict"]["label"] == "error"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["tasks"]["mmsb_typo"]["error"] == 1 and summary["errors"] == 1
    assert summary["tasks"]["mmsb_typo"]["n"] == len(rows)
    assert "1 error(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,names",
    [
        (
            ["--model", "tiny:qwen2-vl", "--tasks", "va_video_typo,nope"],
            [
                "va_video_typo",
                "mm_safetybench",
                "va_audio",
                "mme",
                "capability_image",
                "over_refusal",
                "benign_audio_kpt",
            ],
        ),
        (
            ["--model", "tiny:qwen2-vl", "--tasks", "mme,nope"],
            ["va_video_typo", "mme", "xstest_safe", "capability_text"],
        ),
        (["--model", "gguf:thing", "--tasks", "va_video_typo"], ["hf", "tiny", "openai", "vllm"]),
        (["--model", "tiny:gpt5", "--tasks", "va_video_typo"], ["tiny:qwen2-vl", "tiny:qwen2-audio", "tiny:llava"]),
    ],
)
def test_unknown_names_exit_2_listing_the_valid_ones(tmp_path, capsys, args, names):
    assert main(["eval", *args, "--bench", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("va-bench: error:") and all(n in err for n in names) and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_eval_without_a_build_names_the_build_command(tmp_path, capsys):
    assert main(["eval", "--model", "tiny:llava", "--tasks", "mmsb_typo", "--bench", str(tmp_path / "none")]) == 2
    assert "va-bench build --tasks mmsb_typo --out" in capsys.readouterr().err


def _cache_keys(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["key"] for line in path.read_text().splitlines() if line.endswith("}")]


def test_killed_eval_resumes_without_regenerating(tmp_path, capsys):
    bench = build_small_bench(tmp_path / "bench", tasks="va_video_text_only", scenarios=None, limit=None)
    total = len(manifest(bench, "va_video_text_only"))
    out = tmp_path / "run"
    args = [
        "eval",
        "--model",
        "tiny:qwen2-vl",
        "--tasks",
        "va_video_text_only",
        "--bench",
        str(bench),
        "--out",
        str(out),
        "--batch-size",
        "1",
        "--max-new-tokens",
        "16",
    ]
    cache = out / "cache" / "generations.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "va_safetybench.cli", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **ONE_THREAD_ENV},
    )
    deadline = time.monotonic() + 240
    while len(_cache_keys(cache)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _cache_keys(cache)
    assert 3 <= len(before) < total, f"kill landed at {len(before)} of {total} cached responses"
    assert not (out / "responses.jsonl").exists()
    cached_text = {json.loads(line)["response"] for line in cache.read_text().splitlines() if line.endswith("}")}

    capsys.readouterr()
    assert main(args) == 0  # the same command again
    match = re.search(r"(\d+) generated, (\d+) from cache", capsys.readouterr().out)
    assert match and (int(match[1]), int(match[2])) == (total - len(before), len(before))
    after = _cache_keys(cache)
    assert len(after) == len(set(after)) == total and after[: len(before)] == before  # appended, nothing redone
    rows = read_jsonl(out / "responses.jsonl")
    assert len({(r["task"], r["scenario"], r["id"]) for r in rows}) == len(rows) == total
    assert cached_text <= {r["response"] for r in rows}


def test_lm_eval_passthrough_runs_our_task_and_a_builtin_style_task(bench, tmp_path):
    data = tmp_path / "arith.jsonl"
    data.write_text("".join(json.dumps({"question": f"{a} plus {a}?", "answer": str(2 * a)}) + "\n" for a in range(3)))
    task_yaml = tmp_path / "tiny_arith.yaml"
    task_yaml.write_text(
        "task: tiny_arith\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: " + str(data) + "\n"
        "test_split: test\noutput_type: generate_until\ndoc_to_text: 'Q: {{question}}\\nA:'\n"
        "doc_to_target: '{{answer}}'\ngeneration_kwargs:\n  until: ['\\n']\n  max_gen_toks: 4\n  do_sample: false\n"
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
    )
    cache = tmp_path / "cache.jsonl"
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "va_safetybench.cli",
            "lm-eval",
            "run",
            "--model",
            "va-bench",
            "--model_args",
            f"model=tiny:qwen2-vl,cache={cache}",
            "--tasks",
            f"va_video_typo,{task_yaml}",
            "--metadata",
            json.dumps({"bench": str(bench)}),
            "--gen_kwargs",
            "max_gen_toks=4",
            "--output_path",
            str(out),
            "--log_samples",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **ONE_THREAD_ENV, "HF_DATASETS_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    assert 0.0 <= results["va_video_typo"]["asr,judge"] <= 1.0  # the keyword-judged ASR, inside lm-eval
    assert "exact_match,none" in results["tiny_arith"]
    samples = read_jsonl(next(out.rglob("samples_va_video_typo_*.jsonl")))
    assert len(samples) == len(manifest(bench, "va_video_typo"))
    visual = samples[0]["arguments"]["gen_args_0"]["arg_2"]["visual"]
    assert visual[0]["type"] == "video" and Path(visual[0]["path"]).is_file()
    assert len(_cache_keys(cache)) == len(samples) + 3  # every request generated once and cached
