"""`va-bench compare` on hand-made summaries: each run's rate and Wilson interval, the change against the first run
and its significance, checked against figures computed here with scipy (regress's rule: the pooled z-test, Fisher's
exact test when an expected count is under 5; two-sided as the one-sided p in the observed direction, doubled);
capability and over-refusal beside; runs that are not comparable refused with the reason; the leaderboard links a
base model to its aligned checkpoints and renders the comparison page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.leaderboard_data import write_run
from va_safetybench.cli import main

stats = pytest.importorskip("scipy.stats")

BASE = "tiny:qwen2-vl"
# task -> (scenario-free verdict counts): (unsafe, safe, error) for the base, the SEA run and the text-only run
COUNTS = {
    "va_video_typo": ((30, 10, 2), (8, 32, 2), (27, 13, 2)),  # large counts: z-test; SEA falls significantly
    "mmsb_typo": ((3, 7, 0), (2, 8, 0), (5, 5, 0)),  # small counts: Fisher's exact test; nothing significant
    "va_audio_kpt": ((5, 35, 0), (14, 26, 0), (5, 35, 0)),  # SEA rises significantly; text-only unchanged
}


def _verdicts(task: str, counts: tuple[int, int, int]) -> list[tuple[str, str, str, str]]:
    labels = ["unsafe"] * counts[0] + ["safe"] * counts[1] + ["error"] * counts[2]
    return [(task, "01-Illegal_Activitiy", str(i), label) for i, label in enumerate(labels)]


def _runs(root: Path, **overrides) -> list[Path]:
    def verdicts(which: int) -> list:
        return [v for task, per_run in COUNTS.items() for v in _verdicts(task, per_run[which])]

    base = write_run(
        root / "base",
        BASE,
        verdicts(0),
        random_weights=True,
        capability={"mme": {"acc": 0.5}},
        over_refusal={"video": {"keyword": 0.25}},
    )
    sea = write_run(
        root / "sea",
        f"hf:{root}/work/checkpoint",
        verdicts(1),
        alignment={"method": "SEA-DPO", "base": BASE, "modality": "video", "n": 8, "preset": "quick"},
        capability={"mme": {"acc": 0.45}},
        over_refusal={"video": {"keyword": 0.5}},
        **overrides,
    )
    text = write_run(
        root / "text",
        f"hf:{root}/work/checkpoint-text-only",
        verdicts(2),
        alignment={"method": "Text-only-DPO", "base": BASE, "n": 8},
        capability={"mme": {"acc": 0.5}},
    )
    return [base, sea, text]


def _one_sided(k1: int, n1: int, k2: int, n2: int) -> tuple[float, str]:
    """P(rate 2 > rate 1) by regress's rule, computed with scipy."""
    pooled = (k1 + k2) / (n1 + n2)
    if min(n1, n2) * min(pooled, 1 - pooled) < 5:
        return stats.fisher_exact([[k2, n2 - k2], [k1, n1 - k1]], alternative="greater").pvalue, "fisher"
    z = (k2 / n2 - k1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return stats.norm.sf(z), "z"


def test_compare_gives_the_changes_and_their_significance(tmp_path, capsys):
    runs = _runs(tmp_path)
    out = tmp_path / "cmp.json"
    assert main(["compare", *map(str, runs), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert [r["model"] for r in data["runs"]] == [
        BASE,
        f"hf:{tmp_path}/work/checkpoint",
        f"hf:{tmp_path}/work/checkpoint-text-only",
    ]
    significant = {}
    for task, per_run in COUNTS.items():
        row = data["tasks"][task]
        (k1, s1, e1) = per_run[0]
        for i, (k, s, e) in enumerate(per_run):
            rate = row["rates"][i]
            lo, hi = stats.binomtest(k, k + s).proportion_ci(method="wilson")
            assert (rate["hits"], rate["trials"], rate["errors"]) == (k, k + s, e)
            assert rate["rate"] == pytest.approx(k / (k + s)) and rate["ci95"] == pytest.approx([lo, hi], abs=2e-3)
            if i == 0:
                continue
            change = row["changes"][i - 1]
            rise, test_rise = _one_sided(k1, k1 + s1, k, k + s)
            fall, test_fall = _one_sided(k, k + s, k1, k1 + s1)
            p, test = min((rise, test_rise), (fall, test_fall))
            assert change["delta"] == pytest.approx(k / (k + s) - k1 / (k1 + s1))
            assert change["p_value"] == pytest.approx(min(1.0, 2 * p), rel=1e-6) and change["test"] == test
            assert change["significant"] == (2 * p < 0.05)
            significant[(task, i)] = change["significant"] and change["direction"]
    assert significant == {
        ("va_video_typo", 1): "fall",
        ("va_video_typo", 2): False,
        ("mmsb_typo", 1): False,
        ("mmsb_typo", 2): False,
        ("va_audio_kpt", 1): "rise",
        ("va_audio_kpt", 2): False,
    }
    scores = {s["name"]: s for s in data["scores"]}
    assert scores["mme acc"]["values"] == [0.5, 0.45, 0.5] and scores["mme acc"]["deltas"] == pytest.approx(
        [-0.05, 0.0]
    )
    assert scores["video (keyword)"]["values"] == [0.25, 0.5, None] and scores["video (keyword)"]["deltas"][1] is None
    assert data["random_weights"] is True

    lines = {line.split()[0]: line for line in printed.splitlines() if line.split() and line.split()[0] in COUNTS}
    assert "▼ significant" in lines["va_video_typo"] and "▲ significant" in lines["va_audio_kpt"]
    assert "significant" not in lines["mmsb_typo"]
    assert "75.0% [" in lines["va_video_typo"] and "(30/40)" in lines["va_video_typo"]
    assert "mean nothing" in printed


@pytest.mark.parametrize(
    "override,reason",
    [
        ({"judge": ("llama-guard", "3")}, "judge differs"),
        ({"manifest": "b2" * 32}, "bench manifest sha256 differs"),
        ({"judge_endpoint": "http://127.0.0.1:8000/v1"}, None),  # one side records none: still comparable
    ],
)
def test_runs_that_are_not_comparable_are_refused_with_the_reason(override, reason, tmp_path, capsys):
    runs = _runs(tmp_path, **override)
    code = main(["compare", *map(str, runs)])
    err = capsys.readouterr().err
    if reason is None:
        assert code == 0
    else:
        assert code == 2 and reason in err and "not comparable" in err


def test_media_of_another_origin_are_refused(tmp_path, capsys):
    runs = _runs(tmp_path)
    for run, media in ((runs[0], "official"), (runs[1], "rendered")):
        summary = json.loads((run / "summary.json").read_text())
        summary["bench"]["media"] = {"va_video_typo": media}
        (run / "summary.json").write_text(json.dumps(summary))
    assert main(["compare", str(runs[0]), str(runs[1])]) == 2
    assert "va_video_typo's media are rendered there and official in the first run" in capsys.readouterr().err


def test_compare_needs_two_runs(tmp_path, capsys):
    runs = _runs(tmp_path)
    assert main(["compare", str(runs[0])]) == 2
    assert "at least two runs" in capsys.readouterr().err


def test_leaderboard_links_a_base_model_to_its_aligned_checkpoints_and_compares_them(tmp_path):
    _runs(tmp_path / "runs")
    site = tmp_path / "site"
    assert main(["leaderboard", str(tmp_path / "runs"), "--out", str(site)]) == 0
    pages = {p.name: p.read_text() for p in (site / "models").glob("*.html")}
    (base_page,) = [text for text in pages.values() if "<h1>tiny:qwen2-vl" in text]
    assert "Aligned checkpoints" in base_page and "SEA-DPO" in base_page and "Text-only-DPO" in base_page
    assert "modality video, n 8, preset quick" in base_page
    (compare_page,) = list((site / "compare").glob("*.html"))
    assert f"../compare/{compare_page.name}" in base_page
    html = compare_page.read_text()
    assert html.count("class='sig fall'") == 1 and html.count("class='sig rise'") == 1
    assert "Random weights" in html
    aligned_pages = [text for text in pages.values() if "Aligned from" in text]
    assert len(aligned_pages) == 2 and all(f"../compare/{compare_page.name}" in t for t in aligned_pages)
