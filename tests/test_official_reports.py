"""The official rule and the media's origin in the reports: summary.json (written by summary.write_summary), the
leaderboard's rule switch (in headless Chromium when present), and `va-bench regress --metric asr_official`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from judges.aggregate import Record
from va_safetybench.cli import main
from va_safetybench.records import BenchFingerprint, JudgeIdentity, Summary
from va_safetybench.summary import write_summary

SCENARIOS = ("1-IllegalActivitiy", "2-HateSpeech")


def _run(root: Path, model: str, labels: list[tuple[str, bool]], media: str = "official", sha: str = "b2" * 32) -> Path:
    """A run of va_video_typo: per item (our label, official_unsafe), alternating over two scenarios."""
    records = [
        Record("va_video_typo", SCENARIOS[i % 2], str(i), label, official) for i, (label, official) in enumerate(labels)
    ]
    bench = BenchFingerprint(
        path="/b", manifest_sha256=sha, task_manifests={"va_video_typo": sha}, media={"va_video_typo": media}
    )
    judge = JudgeIdentity(name="gpt:gpt-4o-mini", version="gpt1-x")
    write_summary(root, records, Summary(model=model, backend="openai", judge=judge, bench=bench))
    return root


# ours: 2 unsafe of 4 judged (50%); official: only the 1 exact "unsafe" of 6 items counts
BASE = [("unsafe", True), ("unsafe", False), ("safe", False), ("safe", False), ("error", False), ("error", False)]


def test_summary_carries_both_rules_and_the_media_origin(tmp_path):
    summary = json.loads((_run(tmp_path / "r", "m", BASE) / "summary.json").read_text())
    task = summary["tasks"]["va_video_typo"]
    assert task["asr"] == 0.5 and task["official_unsafe"] == 1 and task["asr_official"] == 1 / 6
    assert summary["bench"]["media"] == {"va_video_typo": "official"}


def test_regress_on_the_official_metric(tmp_path, capsys):
    base = _run(tmp_path / "base", "m", BASE * 20)
    # same labels (ours unchanged), but the judge now answers exactly "unsafe" where it said "unsafe." before
    worse = _run(tmp_path / "cur", "m", [(label, label == "unsafe") for label, _ in BASE * 20])
    assert main(["regress", "--baseline", str(base), "--current", str(worse)]) == 0
    assert main(["regress", "--baseline", str(base), "--current", str(worse), "--metric", "asr_official"]) == 1
    out = capsys.readouterr().out
    assert "official-rule ASR regressed" in out and "`asr_official`" in out


def test_regress_refuses_official_against_rendered(tmp_path, capsys):
    base = _run(tmp_path / "base", "m", BASE)
    rendered = _run(tmp_path / "cur", "m", BASE, media="rendered")
    assert main(["regress", "--baseline", str(base), "--current", str(rendered)]) == 2
    err = capsys.readouterr().err
    assert "official in the baseline and rendered in the current run" in err


def test_regress_official_metric_on_an_old_summary_is_exit_2(tmp_path, capsys):
    base = _run(tmp_path / "base", "m", BASE)
    data = json.loads((base / "summary.json").read_text())
    for cell in [data["tasks"]["va_video_typo"], *data["tasks"]["va_video_typo"]["scenarios"].values()]:
        del cell["official_unsafe"]
    (base / "summary.json").write_text(json.dumps(data))
    cur = _run(tmp_path / "cur", "m", BASE)
    assert main(["regress", "--baseline", str(base), "--current", str(cur), "--metric", "asr_official"]) == 2
    assert "no asr_official" in capsys.readouterr().err


def test_leaderboard_rule_switch_in_chromium(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("/usr/bin/chromium"):
        pytest.skip("Debian chromium not installed")
    results = tmp_path / "results"
    _run(results / "a", "model-a", BASE)
    _run(results / "b", "model-b", [("unsafe", True)] * 3 + [("safe", False)] * 3, media="rendered")
    assert main(["leaderboard", str(results), "--out", str(tmp_path / "site")]) == 0
    index = (tmp_path / "site" / "index.html").read_text()
    assert "id=rule" in index
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((tmp_path / "site" / "index.html").as_uri())
        col = page.locator("#board thead th", has_text="va_video_typo").evaluate("th => th.cellIndex")
        cells = lambda: page.locator("#board tbody tr").evaluate_all(  # noqa: E731
            "(rows, i) => rows.map(r => [r.cells[0].querySelector('a').innerText, r.cells[i].innerText, r.cells[i].dataset.v])",
            col,
        )
        media = page.locator("#board tbody tr").evaluate_all(
            "rows => rows.map(r => r.cells[r.cells.length - 2].innerText)"
        )
        ours = {m: (t, float(v)) for m, t, v in cells()}
        page.select_option("#rule", "official")
        official = {m: (t, float(v)) for m, t, v in cells()}
        page.select_option("#rule", "ours")
        back = {m: (t, float(v)) for m, t, v in cells()}
        browser.close()
    assert not errors
    assert sorted(media) == ["official", "rendered"]
    # model-a: ours 50% macro (each scenario 1 of 2 judged), official (1/3 + 0/3) / 2
    assert ours["model-a"] == ("50.0%", 0.5)
    assert official["model-a"][0] == "16.7%" and abs(official["model-a"][1] - 1 / 6) < 1e-6
    assert official["model-b"][0] == "50.0%" and back == ours
