"""How far to trust a number: the judge's known agreement with human labels in summary.json, in the printout beside
the ASR, and on the leaderboard; an offline judge's ASR says it is an estimate, not a publishable figure."""

from __future__ import annotations

import json

from judges import trust
from judges.registry import OFFLINE_SPECS, make_judge
from va_safetybench.cli import main

from .leaderboard_data import write_run
from .test_judges_commands import make_run


def test_measured_agreement_is_recorded_for_the_current_judge_versions():
    """judges/data/agreement.json was measured on the judges as they are: a changed judge (new weights, a new
    phrase list) no longer matches its version and must be measured again (README: Judges)."""
    for spec in OFFLINE_SPECS:
        judge = make_judge(spec)
        known = trust.known_agreement(judge.name, judge.version)
        assert known["kind"] == "measured", spec
        held_apart = {"xstest_v2", "gptfuzz", "gptfuzz#split=evaluate", "purseclab_manual"}
        held_apart -= trust.TRAINED_ON.get(judge.name.partition(":")[0], set())
        assert set(known["sets"]) == held_apart, spec
        assert known["note"] == trust.OFFLINE_ESTIMATE
    assert trust.known_agreement("lexical", "lex1-0000000000")["kind"] == "unmeasured"
    assert trust.known_agreement("harmbench:/m/cls", "hb2-x")["kind"] == "published"
    assert "note" not in trust.known_agreement("gpt:gpt-4o-mini", "gpt1-x")


def test_summary_and_printout_carry_the_agreement(tmp_path, capsys):
    run = make_run(tmp_path)
    assert main(["judge", str(run), "--judge", "keyword"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("judge keyword:jailbreakbench:"))
    assert "xstest_v2 71.1%" in line and "purseclab_manual 75.7%" in line
    assert line.endswith("an offline estimate, not a publishable figure")
    summary = json.loads((run / "summary-keyword.json").read_text())
    agreement = summary["judge_agreement"]
    assert agreement["kind"] == "measured" and agreement["note"] == trust.OFFLINE_ESTIMATE
    assert round(100 * agreement["sets"]["gptfuzz"]["accuracy"], 1) == 77.1
    assert main(["judge", str(run), "--judge", "lexical"]) == 0
    lexical = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("judge lexical:"))
    # its figures on rows it never trained on: the whole GPTFuzz set (train split included) is left out
    assert "xstest_v2 94.6%, gptfuzz#split=evaluate 93.3%, purseclab_manual 88.0%" in lexical
    assert "gptfuzz 95.6%" not in lexical


def test_leaderboard_shows_the_judge_and_its_trust(tmp_path):
    runs = tmp_path / "runs"
    verdicts = [
        ("va_video_typo", "1-IllegalActivitiy", "0", "unsafe"),
        ("va_video_typo", "1-IllegalActivitiy", "1", "safe"),
    ]
    keyword = make_judge("keyword")
    write_run(runs / "a", "model-a", verdicts, judge=(keyword.name, keyword.version))
    write_run(runs / "b", "model-b", verdicts, judge=("gpt:gpt-4o-mini", "gpt1-x"))
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "site")]) == 0
    index = (tmp_path / "site" / "index.html").read_text()
    assert "keyword judge: offline estimate" in index and "an offline estimate, not a publishable figure" in index
    assert "judge gpt:gpt-4o-mini: agreement not measured" in index
