"""The demo writes what it wrote before the typed records (tests/golden/demo_limit1.json, made by the code before them;
tests/demo_golden.py says how it is compared and how to regenerate it), and summaries written before format versions
(tests/golden/summaries_v1: the same demo's) still load, compare with new ones, print and render."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from leaderboard.results import load_summary
from va_safetybench.cli import main
from va_safetybench.commands.eval import print_summary
from va_safetybench.records import FORMAT_FIELD, Summary

from .conftest import REPO
from .demo_golden import GOLDEN, contained, normalise

V1_SUMMARIES = Path(__file__).resolve().parent / "golden" / "summaries_v1"
pytestmark = pytest.mark.slow


def test_the_demo_writes_what_it_wrote_before(demo):
    problems = contained(json.loads(GOLDEN.read_text(encoding="utf-8")), normalise(demo))
    assert problems == [], "\n".join(problems[:40])


OURS_AMONG_THEIRS = {"va_safetybench.json", "sea_fingerprint.json"}  # our files in transformers' / trl's folders


def _ours(demo: Path, path: Path) -> bool:
    """Whether the demo's JSON file `path` is a format of ours: not lm-eval's results and samples (run/lm_eval,
    run/capability), nor a checkpoint's or trainer's own files (sea/checkpoint, sea/trainer), which carry theirs."""
    parts = path.relative_to(demo).parts
    if "lm_eval" in parts or parts[:1] == ("runs",) and parts[2:3] == ("capability",):
        return False
    return parts[:2] not in (("sea", "checkpoint"), ("sea", "trainer")) or path.name in OURS_AMONG_THEIRS


def test_every_file_format_the_demo_writes_has_a_version(demo):
    """Every JSON and JSONL file of ours the demo writes carries format_version (each line of a JSONL file)."""
    ours = [p for p in demo.rglob("*") if p.suffix in (".json", ".jsonl") and _ours(demo, p)]
    kinds = {p.name if p.suffix == ".json" else p.parent.name + "/" + p.name.split(".")[0] for p in ours}
    assert {"summary.json", "bench.json", "verified-media.json", ".va-bench-site.json", "cache/generations"} <= kinds
    for path in ours:
        text = path.read_text(encoding="utf-8")
        values = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".jsonl"
            else [json.loads(text)]
        )
        assert values and all(isinstance(v.get(FORMAT_FIELD), int) for v in values), path
    summary = json.loads((demo / "runs" / "tiny_llava" / "summary.json").read_text())
    assert summary[FORMAT_FIELD] == Summary.VERSION


def test_the_published_schemas_accept_what_the_demo_writes(demo, capsys):
    """`va-bench schema` prints the schemas users validate with; the demo's own files pass them."""
    from jsonschema import Draft202012Validator

    assert main(["schema"]) == 0
    schemas = {name: Draft202012Validator(schema) for name, schema in json.loads(capsys.readouterr().out).items()}
    run = demo / "runs" / "tiny_qwen2-vl"
    checks = [("summary", json.loads((run / "summary.json").read_text()))]
    checks += [("response", json.loads(line)) for line in (run / "responses.jsonl").read_text().splitlines()]
    for manifest in (demo / "bench" / "manifests").glob("*.jsonl"):
        checks += [("manifest-entry", json.loads(line)) for line in manifest.read_text().splitlines()]
    for name, value in checks:
        schemas[name].validate(value)
    with pytest.raises(Exception, match="is not valid under any of the given schemas"):  # label not in the enum
        schemas["response"].validate({**checks[1][1], "verdict": {"label": "maybe"}})


def test_old_summaries_load_compare_print_and_render(demo, tmp_path, capsys):
    old = V1_SUMMARIES / "tiny_qwen2-vl" / "summary.json"
    assert FORMAT_FIELD not in json.loads(old.read_text())
    run = load_summary(old)
    assert run.model == "tiny:qwen2-vl" and run.tasks["va_video_typo"].counts.n == 8
    # the old summary and the new run of the same model on the same bench are comparable: the manifests' digests
    # do not see the format version the new build added to every manifest line
    new = load_summary(demo / "runs" / "tiny_qwen2-vl")
    assert new.manifest_sha256 == run.manifest_sha256 and new.task_manifests == run.task_manifests
    assert main(["regress", "--baseline", str(old), "--current", str(demo / "runs")]) == 0
    assert "**PASS**" in capsys.readouterr().out
    out = io.StringIO()
    print_summary(Summary.load(old), out)
    assert "va_video_typo" in out.getvalue() and "over-refusal video (n=8)" in out.getvalue()
    results = tmp_path / "results"
    shutil.copytree(V1_SUMMARIES, results / "old")
    shutil.copytree(demo / "runs" / "tiny_llava", results / "new" / "tiny_llava")
    assert main(["leaderboard", str(results), "--out", str(tmp_path / "site")]) == 0
    index = (tmp_path / "site" / "index.html").read_text()
    assert all(model in index for model in ("tiny:qwen2-vl", "tiny:qwen2-audio", "tiny:llava"))
    # the committed regression baseline (a full demo run, written before format versions) reads as well
    assert load_summary(REPO / "leaderboard" / "baselines" / "demo-tiny-qwen2-vl.json").model == "tiny:qwen2-vl"
