"""The safety tasks report ASR as lm-eval metrics: through the plain lm-eval CLI (`va-bench lm-eval`), on a
real build of all twelve tasks, with tiny models, the keyword judge and a GPT judge over HTTP."""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from judges.aggregate import summarize_tasks
from judges.registry import DEFAULT_JUDGE, make_judge
from judges.runs import judge_rows
from va_safetybench.cli import main
from va_safetybench.errors import InputError
from va_safetybench.harness.docs import tasks_dir
from va_safetybench.media.video_io import write_video
from va_safetybench.records import Judgement
from va_safetybench.records.responses import ResponseRow
from va_safetybench.taskspec import GROUPS, TASKS

from .fake_openai import FakeOpenAI, chat_completion
from .harness_support import build_small_bench, manifest, one_torch_thread, read_jsonl  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")

METRICS = ("asr", "asr_macro", "asr_official", "asr_official_macro")
TOKENS = 12  # long enough that a tiny model's response is found verbatim in the judge request quoting it
VA_SCENARIOS = ("1-IllegalActivitiy", "2-HateSpeech")
MM_SCENARIOS = ("01-Illegal_Activitiy", "02-HateSpeech")
IDS = ("0", "1")  # --limit 2: the first two demo items of each scenario


def _official_archives(root: Path) -> tuple[Path, Path]:
    """video.zip (DM clips) and imgs.zip (SD images) in the official releases' layout, for the demo items."""
    video, images = root / "video.zip", root / "imgs.zip"
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(video, "w") as zf:
        for n, (scenario, item) in enumerate(itertools.product(VA_SCENARIOS, IDS)):
            clip = root / f"dm{n}.mp4"
            write_video([np.full((192, 320, 3), 60 + 30 * n + 4 * k, np.uint8) for k in range(12)], clip, fps=12)
            zf.write(clip, f"VA-SafetyBench/Video/{scenario}/DM/{item}.mp4")
    with zipfile.ZipFile(images, "w") as zf:
        for scenario, item in itertools.product(MM_SCENARIOS, IDS):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(buf, format="JPEG")
            zf.writestr(f"MM-SafetyBench/imgs/{scenario}/SD/{item}.jpg", buf.getvalue())
    return video, images


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    """Every task of the four groups built: 2 scenarios x 2 items, DM and SD media from official-style archives."""
    root = tmp_path_factory.mktemp("full")
    video, images = _official_archives(root)
    out = root / "bench"
    args = ["build", "--source", "demo", "--out", str(out), "--scenarios", "1,2", "--limit", "2", "--jobs", "1"]
    assert main([*args, "--dm", f"hub:{video}", "--sd", f"hub:{images}"]) == 0
    assert all(e["status"] == "ok" for t in TASKS for e in manifest(out, t))
    return out


def _lm_eval(out: Path, model_args: str, tasks: str, metadata: dict) -> tuple[dict, dict[str, list[dict]]]:
    """`va-bench lm-eval run ...` as a user types it; (results JSON, {task: logged samples})."""
    argv = ["lm-eval", "run", "--model", "va-bench", "--model_args", model_args, "--tasks", tasks]
    argv += ["--metadata", json.dumps(metadata), "--gen_kwargs", f"max_gen_toks={TOKENS}"]
    assert main([*argv, "--output_path", str(out), "--log_samples"]) == 0
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    logs = {p.name.rsplit("_", 1)[0].removeprefix("samples_"): p for p in out.rglob("samples_*.jsonl")}  # _{date}
    return results, {task: read_jsonl(path) for task, path in logs.items()}


def _value(results: dict, name: str, metric: str):
    section = results["groups"] if name in GROUPS else results["results"]
    return section[name].get(f"{metric},judge")


def _stderr(results: dict, name: str, metric: str):
    section = results["groups"] if name in GROUPS else results["results"]
    return section[name].get(f"{metric}_stderr,judge")


@pytest.fixture(scope="module")
def vl(bench, tmp_path_factory) -> dict:
    """tiny:qwen2-vl through `va-bench eval`, then through plain lm-eval on the same response cache."""
    root = tmp_path_factory.mktemp("vl")
    run = root / "run"
    eval_args = ["eval", "--model", "tiny:qwen2-vl", "--tasks", "va_safetybench,mm_safetybench", "--bench", str(bench)]
    assert main([*eval_args, "--out", str(run), "--max-new-tokens", str(TOKENS)]) == 0
    cache = run / "cache" / "generations.jsonl"
    cached = cache.read_text()
    results, samples = _lm_eval(
        root / "lm", f"model=tiny:qwen2-vl,cache={cache}", "va_safetybench,mm_safetybench", {"bench": str(bench)}
    )
    return {
        "run": run,
        "summary": json.loads((run / "summary.json").read_text()),
        "results": results,
        "samples": samples,
        "cache_grew": cache.read_text() != cached,
    }


@pytest.fixture(scope="module")
def audio(bench, tmp_path_factory) -> dict:
    results, samples = _lm_eval(
        tmp_path_factory.mktemp("audio"), "model=tiny:qwen2-audio", "va_audio", {"bench": str(bench)}
    )
    return {"results": results, "samples": samples}


def test_every_safety_task_and_group_reports_asr_and_its_stderr(vl, audio):
    reported = set()
    for run in (vl, audio):
        results = run["results"]
        for name in [*results["results"], *results.get("groups", {})]:
            if name not in TASKS and name not in GROUPS:
                continue
            for metric in METRICS:
                value = _value(results, name, metric)
                if value is not None:
                    assert 0.0 <= value <= 1.0, (name, metric, value)
            asr, stderr = _value(results, name, "asr"), _stderr(results, name, "asr")
            if asr is not None:
                assert isinstance(stderr, float) and 0.0 <= stderr <= 1.0, (name, stderr)
                assert 0.0 <= _stderr(results, name, "asr_official") <= 1.0
                reported.add(name)
            if name in TASKS:
                assert results["higher_is_better"][name]["asr"] is False  # lower is safer
    assert reported == set(TASKS) | set(GROUPS)
    assert sorted(audio["results"]["groups"]) == ["va_audio"]
    assert sorted(vl["results"]["groups"]) == sorted(GROUPS)


def test_a_task_the_model_cannot_take_has_errors_only_no_asr_and_zero_official_asr(vl):
    """qwen2-vl takes no audio: every audio item is an error, which the official rule counts as not unsafe."""
    results = vl["results"]
    for task in ("va_audio_only", "va_audio_kpt", "va_audio_kpt_noise"):
        labels = {json.loads(s["filtered_resps"][0])["label"] for s in vl["samples"][task]}
        assert labels == {"error"}
        assert _value(results, task, "asr") is None and _value(results, task, "asr_macro") is None
        assert _value(results, task, "asr_official") == 0.0
    # the audio group averages the one audio task that was judged
    assert _value(results, "va_audio", "asr") == _value(results, "va_audio_text_only", "asr")


def test_groups_are_the_unweighted_mean_over_their_tasks(vl):
    results = vl["results"]
    for group, members in GROUPS.items():
        for metric in METRICS:
            values = [_value(results, t, metric) for t in members if _value(results, t, metric) is not None]
            assert _value(results, group, metric) == pytest.approx(sum(values) / len(values))


def test_va_bench_eval_and_plain_lm_eval_give_identical_numbers(vl, bench):
    summary, results = vl["summary"], vl["results"]
    assert not vl["cache_grew"]  # lm-eval was answered from va-bench eval's cache: the very same responses
    own = json.loads((vl["run"] / "lm_eval" / "results.json").read_text())
    assert sorted(summary["tasks"]) == sorted(n for n in own["results"] if n in TASKS)
    for task, counts in summary["tasks"].items():
        for metric in METRICS:
            assert _value(results, task, metric) == counts[metric], (task, metric)
            assert _value(own, task, metric) == counts[metric], (task, metric)
    for group in ("va_video", "mm_safetybench"):  # every task of these ran in both
        for metric in ("asr_macro", "asr_official_macro"):
            assert _value(results, group, metric) == summary["groups"][group][metric]
            assert _value(own, group, metric) == summary["groups"][group][metric]

    # and both agree with the default judge applied here, response by response
    rows = {(r["task"], r["scenario"], r["id"]): r for r in read_jsonl(vl["run"] / "responses.jsonl")}
    judge = make_judge(DEFAULT_JUDGE)
    for task in summary["tasks"]:
        labels = []
        for sample in vl["samples"][task]:
            row = rows[(task, sample["doc"]["scenario"], sample["doc"]["id"])]
            response = sample["resps"][0][0]
            assert response == (row["response"] or "")
            label = judge_rows(judge, [ResponseRow.from_json(row, "responses.jsonl")])[0].label
            assert json.loads(sample["filtered_resps"][0])["label"] == label == row["verdict"]["label"]
            labels.append(label)
        judged = [x for x in labels if x != "error"]
        assert summary["tasks"][task]["asr"] == judged.count("unsafe") / len(judged)


def test_logged_samples_carry_the_verdict_next_to_the_response(vl):
    for samples in vl["samples"].values():
        assert len({(s["doc"]["scenario"], s["doc"]["id"]) for s in samples}) == len(samples) == 4
        for sample in samples:
            verdict = json.loads(sample["filtered_resps"][0])
            assert sample["filter"] == "judge" and isinstance(sample["resps"][0][0], str)
            assert verdict["label"] in ("safe", "unsafe", "error") and verdict["raw"]
            assert verdict["judge"] == DEFAULT_JUDGE and verdict["judge_version"] == make_judge(DEFAULT_JUDGE).version
            assert sample["asr_official"] == float(verdict["label"] == "unsafe")
            assert ("asr" in sample) == (verdict["label"] != "error")


def _scripted(body: dict, replies: itertools.count, lock: threading.Lock) -> tuple[int, dict]:
    """The model (`answerer`) says "Here is reply #N." with N counting up; the judge (`judge-model`)
    answers unsafe for the replies whose N is not a multiple of 3, safe for the others."""
    content = body["messages"][-1]["content"]
    if body["model"] == "judge-model":
        n = int(re.search(r"reply #(\d+)", content)[1])
        return 200, chat_completion("unsafe" if n % 3 else "safe")
    with lock:
        n = next(replies)
    return 200, chat_completion(f"Here is reply #{n}.")


def test_a_gpt_judge_named_in_metadata_makes_the_metric(bench, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-test-secret")
    replies, lock = itertools.count(), threading.Lock()
    tasks = ["va_video_text_only", "mmsb_text_only", "mmsb_typo"]
    with FakeOpenAI(lambda body: _scripted(body, replies, lock)) as server:
        judge_args = {"base_url": server.base_url, "api_key_env": "FAKE_KEY", "cache_dir": str(tmp_path / "v")}
        metadata = {"bench": str(bench), "judge": "gpt:judge-model", "judge_args": judge_args}
        model = f"model=openai:answerer,base_url={server.base_url},api_key_env=FAKE_KEY"
        results, samples = _lm_eval(tmp_path / "lm", model, ",".join(tasks), metadata)
    judged = [r for r in server.requests if r["model"] == "judge-model"]
    assert len(judged) == 4 * len(tasks)  # one judge request per response, all distinct
    assert all({k.lower(): v for k, v in h.items()}["authorization"] == "Bearer sk-test-secret" for h in server.headers)
    for task in tasks:
        labels = []
        for sample in samples[task]:
            n = int(re.search(r"reply #(\d+)", sample["resps"][0][0])[1])
            labels.append("unsafe" if n % 3 else "safe")
            verdict = json.loads(sample["filtered_resps"][0])
            assert (verdict["label"], verdict["raw"], verdict["judge"]) == (labels[-1], labels[-1], "gpt:judge-model")
        assert _value(results, task, "asr") == labels.count("unsafe") / len(labels)
        assert _value(results, task, "asr_official") == labels.count("unsafe") / len(labels)
    assert {_value(results, t, "asr") for t in tasks} != {1.0}  # the keyword judge calls every one of them unsafe
    assert results["configs"]["mmsb_typo"]["metadata"]["judge"] == "gpt:judge-model"
    assert not [p for p in (tmp_path / "lm").rglob("*") if p.is_file() and "sk-test-secret" in p.read_text()]


# ---- without a model ----------------------------------------------------------------------------
def test_aggregations_follow_the_summary_rules():
    from va_safetybench.harness import metrics

    cells = [  # (scenario, label, official_unsafe): a judge whose raw answer the official rule reads otherwise
        ("a", "unsafe", True),
        ("a", "safe", False),
        ("a", "error", False),
        ("b", "unsafe", False),
        ("b", "unsafe", True),
        ("c", "error", False),
    ]
    per_doc = [
        metrics.process_results({"scenario": s}, [metrics.encode_verdict(_judgement(label, official))])
        for s, label, official in cells
    ]
    from judges.aggregate import Record

    expected = summarize_tasks(Record("t", s, str(i), label, official) for i, (s, label, official) in enumerate(cells))
    expected = expected["t"]
    asr = [d["asr"] for d in per_doc if "asr" in d]
    assert sum(asr) / len(asr) == expected["asr"] == 3 / 4
    assert metrics.scenario_macro([d["asr_macro"] for d in per_doc if "asr_macro" in d]) == expected["asr_macro"]
    assert expected["asr_macro"] == (1 / 2 + 1) / 2  # scenario c (errors only) is left out
    official = [d["asr_official"] for d in per_doc]
    assert sum(official) / len(official) == expected["asr_official"] == 2 / 6
    assert metrics.official_scenario_macro([d["asr_official_macro"] for d in per_doc]) == pytest.approx(
        expected["asr_official_macro"]
    )


def _judgement(label: str, official: bool | None) -> Judgement:
    return Judgement(label=label, raw=label, judge="x", judge_version="1", official_unsafe=official)


@pytest.fixture(scope="module")
def text_bench(tmp_path_factory) -> Path:
    return build_small_bench(tmp_path_factory.mktemp("text") / "b", tasks="mmsb_text_only", scenarios="1", limit=1)


def _manager(bench: Path, **metadata):
    from lm_eval.tasks import TaskManager

    return TaskManager(
        include_path=str(tasks_dir()), include_defaults=False, metadata={"bench": str(bench), **metadata}
    )


@pytest.mark.parametrize(
    "metadata,words",
    [
        ({"judge": "nope"}, ["unknown judge 'nope'", "keyword", "gpt:MODEL"]),
        ({"judge": "gpt", "judge_args": {"api_key": "sk-x"}}, ["environment", "api_key_env"]),
        ({"judge": "gpt", "judge_args": {"bsae_url": "http://x"}}, ["'bsae_url'", "base_url"]),
        ({"judge": "keyword", "judge_args": "concurrency=2"}, ["'concurrency'", "takes none"]),
        ({"judge": ["gpt"]}, ["judge spec string"]),
        ({"judge": "gpt", "judge_args": {"api_key_env": "VA_TEST_NO_SUCH_KEY"}}, ["VA_TEST_NO_SUCH_KEY"]),
    ],
)
def test_bad_judge_metadata_is_refused_at_task_loading(text_bench, metadata, words):
    with pytest.raises(InputError) as err:
        _manager(text_bench, **metadata).load(["mmsb_text_only"])
    assert all(w in str(err.value) for w in words), str(err.value)
    assert "sk-x" not in str(err.value)


def test_bad_judge_through_the_cli_exits_2_with_one_line(text_bench, capsys):
    argv = ["lm-eval", "run", "--model", "va-bench", "--model_args", "model=tiny:llava", "--tasks", "mmsb_text_only"]
    capsys.readouterr()
    assert main([*argv, "--metadata", json.dumps({"bench": str(text_bench), "judge": "gpt:x", "judge_args": 3})]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("va-bench: error:") and "judge_args" in err[-1]
