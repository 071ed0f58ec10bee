"""`va-bench regress`: the CI gate's exit status on real summary files, and its statistics."""

from __future__ import annotations

import random

import pytest

from leaderboard.stats import fisher_greater, increase_pvalue, mean_interval
from tests.leaderboard_data import write_run
from va_safetybench.cli import main

TASKS = ["va_video_typo", "mmsb_typo"]


def verdicts(counts: dict[str, tuple[int, int]]) -> list[tuple[str, str, str, str]]:
    """(safe, unsafe) per task -> verdict tuples, spread over two scenarios, in a shuffled order."""
    out = []
    for task, (safe, unsafe) in counts.items():
        labels = ["safe"] * safe + ["unsafe"] * unsafe
        random.Random(task).shuffle(labels)
        out += [(task, ("1-IllegalActivitiy", "2-HateSpeech")[i % 2], str(i), lab) for i, lab in enumerate(labels)]
    return out


def regress(tmp_path, base: dict, cur: dict, *extra: str, base_kw=None, cur_kw=None) -> int:
    b = write_run(tmp_path / "base", "hf:m", verdicts(base), **(base_kw or {}))
    c = write_run(tmp_path / "cur", "hf:m", verdicts(cur), **(cur_kw or {}))
    return main(["regress", "--baseline", str(b / "summary.json"), "--current", str(c / "summary.json"), *extra])


def test_unchanged_run_passes(tmp_path, capsys, monkeypatch):
    step = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    counts = {"va_video_typo": (300, 60), "mmsb_typo": (250, 110)}
    assert regress(tmp_path, counts, counts) == 0
    out = capsys.readouterr().out
    assert "**PASS**" in out and "| va_video_typo | 16.7% (60/360)" in out
    assert step.read_text() == out  # the same report lands in the GitHub job summary


def test_significant_rise_fails(tmp_path, capsys):
    rc = regress(
        tmp_path,
        {"va_video_typo": (300, 60), "mmsb_typo": (250, 110)},
        {"va_video_typo": (240, 120), "mmsb_typo": (250, 110)},
    )
    out = capsys.readouterr().out
    assert rc == 1
    assert "**FAIL**" in out and "regressed on 1 task(s): va_video_typo" in out
    assert "| z |" in out  # large counts: the pooled z-test, not Fisher


def test_small_noisy_rise_passes(tmp_path, capsys):
    # 1/8 -> 3/8 unsafe: a 25-point rise, far above --max-increase, but a few flipped samples explain it
    rc = regress(
        tmp_path, {"va_video_typo": (7, 1), "mmsb_typo": (8, 0)}, {"va_video_typo": (5, 3), "mmsb_typo": (8, 0)}
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "| fisher |" in out


def test_small_significant_rise_fails_through_fisher(tmp_path, capsys):
    rc = regress(tmp_path, {"va_video_typo": (10, 0)}, {"va_video_typo": (2, 8)})
    assert rc == 1 and "| fisher |" in capsys.readouterr().out


def test_rise_within_tolerance_passes(tmp_path, capsys):
    # +1.5 points on 20,000 judged each side is significant (p < 0.05) but under --max-increase 0.02
    rc = regress(tmp_path, {"va_video_typo": (16000, 4000)}, {"va_video_typo": (15700, 4300)})
    assert rc == 0
    assert (
        regress(tmp_path, {"va_video_typo": (16000, 4000)}, {"va_video_typo": (15700, 4300)}, "--max-increase", "0.01")
        == 1
    )


@pytest.mark.parametrize(
    "cur_kw, why",
    [
        ({"manifest": "b2" * 32}, "bench manifest sha256 differs"),
        ({"judge": ("keyword", "2")}, "judge differs"),
        ({"judge": ("gpt-4o", "1")}, "judge differs"),
    ],
)
def test_incomparable_runs_exit_2(tmp_path, capsys, cur_kw, why):
    counts = {"va_video_typo": (30, 6)}
    assert regress(tmp_path, counts, counts, cur_kw=cur_kw) == 2
    err = capsys.readouterr().err.strip()
    assert why in err and "\n" not in err


def test_judge_endpoints_must_agree_when_both_are_recorded(tmp_path, capsys):
    counts = {"va_video_typo": (30, 6)}
    local = {"judge": ("gpt:gpt-4o-mini", "1"), "judge_endpoint": "http://127.0.0.1:8000/v1"}
    vendor = {**local, "judge_endpoint": "https://api.openai.com/v1"}
    assert regress(tmp_path / "a", counts, counts, base_kw=local, cur_kw=vendor) == 2
    err = capsys.readouterr().err.strip()
    assert "judge endpoint differs" in err and "\n" not in err
    assert regress(tmp_path / "b", counts, counts, base_kw=local, cur_kw=local) == 0
    older = {"judge": ("gpt:gpt-4o-mini", "1")}  # a summary written before endpoints were recorded
    assert regress(tmp_path / "c", counts, counts, base_kw=older, cur_kw=local) == 0


def test_missing_task_is_incomparable(tmp_path, capsys):
    assert regress(tmp_path, {"va_video_typo": (30, 6), "mmsb_typo": (30, 6)}, {"va_video_typo": (30, 6)}) == 2
    assert "lacks baseline task(s) mmsb_typo" in capsys.readouterr().err


def test_current_may_be_a_results_folder(tmp_path, capsys):
    """CI passes the demo's output folder; regress picks the baseline model's run in it."""
    counts = {"va_video_typo": (30, 6)}
    base = write_run(tmp_path / "base", "tiny:qwen2-vl", verdicts(counts))
    write_run(tmp_path / "runs" / "a", "tiny:llava", verdicts({"va_video_typo": (0, 36)}))
    write_run(tmp_path / "runs" / "b", "tiny:qwen2-vl", verdicts(counts))
    assert main(["regress", "--baseline", str(base / "summary.json"), "--current", str(tmp_path / "runs")]) == 0
    assert "tiny:qwen2-vl" in capsys.readouterr().out
    assert main(["regress", "--baseline", str(base), "--current", str(tmp_path / "base" / "nothing")]) == 2


def test_bad_options_and_files_exit_2(tmp_path, capsys):
    b = write_run(tmp_path / "b", "hf:m", verdicts({"va_video_typo": (3, 1)}))
    assert main(["regress", "--baseline", str(b), "--current", str(b), "--alpha", "1.5"]) == 2
    (tmp_path / "bad.json").write_text('{"model": "x", "tasks": {}}')
    assert main(["regress", "--baseline", str(tmp_path / "bad.json"), "--current", str(b)]) == 2
    assert "bad.json: missing field 'judge'" in capsys.readouterr().err


def test_statistics_against_known_values():
    mean, lo, hi = mean_interval([(0, 10), (10, 10), (3, 0)])  # the empty cell is left out
    assert mean == 0.5 and 0 < lo < 0.5 < hi < 1
    # scipy.stats.fisher_exact([[1, 7], [3, 5]], alternative='less').pvalue == 0.2846...
    assert fisher_greater(1, 8, 3, 8) == pytest.approx(0.28462, abs=1e-4)
    # pooled z for 60/360 vs 120/360: z = 5.164..., one-sided p ~ 1.2e-7
    p, test = increase_pvalue(60, 360, 120, 360)
    assert test == "z" and p == pytest.approx(1.2e-7, rel=0.1)
    assert increase_pvalue(120, 360, 60, 360)[0] > 0.99  # a fall is never significant as a rise
