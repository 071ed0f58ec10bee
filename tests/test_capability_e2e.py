"""Capability and over-refusal tasks through lm-eval's own machinery with a real tiny model, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from va_safetybench.cli import main

from .capability_data import write_mme, write_xstest
from .conftest import SHARED_DATA

# gsm8k's own format (lm-eval tasks/gsm8k/gsm8k.yaml: question/answer, "#### N"), on a local jsonl
GSM8K_COPY = """task: gsm8k_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
output_type: generate_until
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: false
    regexes_to_ignore: [",", "\\\\$", "(?s).*#### ", "\\\\.$"]
generation_kwargs:
  until: ["Question:", "</s>", "<|im_end|>"]
  do_sample: false
  temperature: 0.0
  max_gen_toks: 4
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"
      - function: take_first
metadata:
  version: 3.0
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("capdata")
    write_mme(root / "mme")
    (root / "xstest").mkdir()
    write_xstest(root / "xstest" / "xstest_prompts.csv")
    bench = root / "bench"
    assert (
        main(
            [
                "build",
                "--source",
                "benign",
                "--out",
                str(bench / "benign"),
                "--tasks",
                "mmsb_typo",
                "--limit",
                "1",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "build",
                "--source",
                "demo",
                "--out",
                str(bench),
                "--tasks",
                "mmsb_typo",
                "--scenarios",
                "1",
                "--limit",
                "1",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    return root


def test_one_eval_runs_safety_and_capability_with_one_model_load(data, monkeypatch, capsys):
    from va_safetybench.models import registry

    loads = []
    real_make_backend = registry.make_backend
    monkeypatch.setattr(registry, "make_backend", lambda *a, **k: loads.append(str(a[0])) or real_make_backend(*a, **k))
    monkeypatch.setenv("VA_CAPABILITY_DATA", str(data))
    run = data / "run"
    llava_eval = ["eval", "--model", "tiny:llava", "--bench", str(data / "bench"), "--out", str(run)]
    llava_eval += ["--limit", "2", "--max-new-tokens", "3"]
    code = main([*llava_eval, "--tasks", "mmsb_typo,mme,over_refusal", "--batch-size", "4"])
    assert code == 0
    assert loads == ["tiny:llava"]  # safety and capability tasks share one model instance
    err = capsys.readouterr().err
    assert "skipping benign_video_typo" in err and "skipping benign_audio_kpt" in err  # llava takes images only
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == "tiny:llava" and summary["random_weights"] is True
    assert list(summary["tasks"]) == ["mmsb_typo"] and summary["tasks"]["mmsb_typo"]["n"] == 1
    assert [r["task"] for r in map(json.loads, (run / "responses.jsonl").read_text().splitlines())] == ["mmsb_typo"]
    mme = summary["capability"]["mme"]
    # --limit 2 keeps two images (four paired questions) of `existence`; random weights score anything in [0, 200]
    assert 0 <= mme["mme_perception_score"] <= 200 and mme["mme_cognition_score"] == 0 and 0 <= mme["acc"] <= 1
    assert set(summary["over_refusal"]) == {"text", "image"}
    assert all(
        0 <= r["keyword"] <= 1 and "gpt" not in r for r in summary["over_refusal"].values()
    )  # keyword judge: no gpt rate
    assert summary["over_refusal"]["text"]["n"] == 2 and summary["over_refusal"]["image"]["n"] == 2
    # XSTest's string match scores the benign twins too
    assert all(0 <= r["strmatch"] <= 1 for r in summary["over_refusal"].values())
    assert set(summary["scorers"]) == {"mme", "xstest_safe", "benign_image_typo"}
    assert summary["scorers"]["mme"]["version"] == "mme-2" and summary["scorers"]["mme"]["reading"] == "lmms-eval"
    samples = [json.loads(line) for line in (run / "capability" / "samples_mme.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and {s["doc"]["key"] for s in samples} == {
        "existence/000000006040.jpg",
        "existence/000000018150.jpg",
    }
    image_samples = (run / "capability" / "samples_benign_image_typo.jsonl").read_text().splitlines()
    assert len(image_samples) == 2  # the benign bench built with --limit 1: one item per scenario, first two kept

    # re-judging and re-running the safety part keep the capability / over_refusal sections
    sections = {k: summary[k] for k in ("capability", "over_refusal", "scorers")}
    assert main(["judge", str(run), "--judge", "keyword:gcg"]) == 0
    rejudged = json.loads((run / "summary-keyword_gcg.json").read_text())
    assert rejudged["judge"]["name"] == "keyword:gcg" and rejudged["tasks"]["mmsb_typo"]["n"] == 1
    assert {k: rejudged[k] for k in sections} == sections and rejudged["bench"] == summary["bench"]
    assert json.loads((run / "summary.json").read_text()) == summary  # the eval's own summary is untouched
    assert main([*llava_eval, "--tasks", "mmsb_typo"]) == 0
    rerun = json.loads((run / "summary.json").read_text())
    assert {k: rerun[k] for k in sections} == sections and "1 from cache" in capsys.readouterr().out


def test_sections_merge_into_an_existing_summary(tmp_path):
    from va_safetybench.records import Summary
    from va_safetybench.summary import add_sections

    # a summary written before format versions, its over-refusal rate a bare number (records.Summary upgrades it)
    (tmp_path / "summary.json").write_text(json.dumps({"model": "m", "tasks": {}, "capability": {"mme": {"acc": 0.5}}}))
    merged = add_sections(
        tmp_path,
        {"capability": {"videomme": {"acc": 0.25}}, "over_refusal": {"text": {"keyword": 0.1}}},
        Summary(model="m"),
    )
    assert merged.capability == {"mme": {"acc": 0.5}, "videomme": {"acc": 0.25}}  # earlier entries kept
    assert json.loads((tmp_path / "summary.json").read_text()) == merged.to_json() and merged.model == "m"
    fresh = add_sections(
        tmp_path / "new", {"over_refusal": {"image": {"keyword": 0.0}}}, Summary(model="x", random_weights=True)
    )
    assert fresh.model == "x" and fresh.over_refusal["image"].keyword == 0.0 and fresh.versions
    other = add_sections(tmp_path, {"over_refusal": {"text": {"keyword": 0.5}}}, Summary(model="y"))  # another model's
    assert other.model == "y" and not other.capability and other.over_refusal["text"].rates() == {"keyword": 0.5}


def test_lm_eval_text_task_in_gsm8k_format_runs_through_our_lm_class(tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from va_safetybench.harness.lm_eval_models import VABenchLM

    rows = [
        {"question": "Tom has 2 apples and buys 3 more. How many apples does he have?", "answer": "2+3=5\n#### 5"},
        {"question": "What is 10 minus 4?", "answer": "10-4=6\n#### 6"},
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "gsm8k_local.yaml").write_text(GSM8K_COPY.format(data=tmp_path / "test.jsonl"))
    lm = VABenchLM(model="tiny:qwen2-vl")
    try:
        out = simple_evaluate(
            model=lm,
            tasks=["gsm8k_local"],
            task_manager=TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False),
            bootstrap_iters=0,
            log_samples=True,
        )
    finally:
        lm.close()
    result = out["results"]["gsm8k_local"]
    assert result["exact_match,strict-match"] == 0.0  # random weights never write "#### 5"
    assert [s["doc"]["question"] for s in out["samples"]["gsm8k_local"]] == [r["question"] for r in rows]
    assert len(lm.outcomes) == 2 and all(o.error is None for o in lm.outcomes)


def test_benign_templates_are_the_official_ones(shared_data):
    from va_safetybench.sources import load_items

    official = {p for item in load_items(str(SHARED_DATA)) for p in item.prompts.values() if p}
    benign = load_items("benign")
    assert len(benign) == 160 and len({i.key_phrase for i in benign}) == 80
    assert {p for item in benign for t, p in item.prompts.items() if p and "text_only" not in t} <= official


def test_harmful_bench_is_refused_as_benign(tmp_path):
    from va_safetybench.capability.benign import benign_bench
    from va_safetybench.errors import InputError

    (tmp_path / "bench.json").write_text(json.dumps({"source": "demo"}))
    with pytest.raises(InputError, match="built from the harmful questions"):
        benign_bench({"benign_bench": str(tmp_path)})
