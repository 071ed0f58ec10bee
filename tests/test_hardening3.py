"""Hardening, round 3: a faulty machine and a hostile user, met where the user meets them (the CLI).

Full disks and read-only benches are real small file systems (tests/mounts.py); models and judges are
real HTTP endpoints (tests/fake_openai.py, or a raw socket server where a reply must misbehave below
HTTP) reached through the `openai` client of a `va-bench` subprocess; "no request sent twice" is read
off the server's request log.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO
from .fake_openai import FakeOpenAI
from .harness_support import build_small_bench, read_jsonl
from .leaderboard_data import random_verdicts, write_run
from .mounts import remount_read_only, tmpfs
from .test_hardening import _clean_env, _run_clean, eval_cli, one_line_error

TASKS = "va_video_text_only,va_video_typo,va_audio_kpt,mmsb_typo"


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return build_small_bench(tmp_path_factory.mktemp("bench") / "bench", tasks=TASKS)


# ---- 2. a read-only bench is checked by hashing, not written ------------------------------------------
def test_eval_runs_on_a_read_only_bench(bench, tmp_path):
    with tmpfs(tmp_path / "ro", "20m") as mount:
        copy = mount / "bench"
        shutil.copytree(bench, copy, symlinks=True)  # new inodes: the verified-media record no longer vouches
        remount_read_only(mount)
        with FakeOpenAI() as server:
            proc = eval_cli(server, copy, tmp_path / "run", "va_video_typo,mmsb_typo")
        assert proc.returncode == 0, proc.stderr
        assert len(server.requests) == 4
        assert {r["task"] for r in read_jsonl(tmp_path / "run" / "responses.jsonl")} == {"va_video_typo", "mmsb_typo"}


# ---- 3. `leaderboard --out` writes only what it owns -------------------------------------------------
def _runs(tmp_path: Path, count: int = 3) -> Path:
    rng = random.Random(3)
    for i in range(count):
        write_run(tmp_path / "runs" / f"m{i}", f"hf:model-{i}", random_verdicts(rng, ["mmsb_typo"], 6, 0.3))
    return tmp_path / "runs"


def _leaderboard(runs: Path, site: Path):
    return _run_clean(["leaderboard", str(runs), "--out", str(site)])


def test_leaderboard_refuses_a_folder_with_files_it_did_not_make(tmp_path):
    site = tmp_path / "site"
    checkpoint = site / "models" / "model.safetensors"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights")
    one_line_error(_leaderboard(_runs(tmp_path), site), "--out", str(site), "no `va-bench leaderboard` build made")
    assert checkpoint.read_bytes() == b"weights" and sorted(p.name for p in site.rglob("*")) == [
        "model.safetensors",
        "models",
    ]


def test_leaderboard_never_writes_through_a_link_in_its_folder(tmp_path):
    runs, site, elsewhere = _runs(tmp_path), tmp_path / "site", tmp_path / "elsewhere"
    assert _leaderboard(runs, site).returncode == 0
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    shutil.rmtree(site / "samples")
    (site / "samples").symlink_to(elsewhere)
    one_line_error(_leaderboard(runs, site), "--out", "samples is a symbolic link")
    assert [p.name for p in elsewhere.iterdir()] == ["keep.txt"]


def test_a_rebuild_replaces_its_own_files_and_keeps_the_users(tmp_path):
    runs, site = _runs(tmp_path), tmp_path / "site"
    assert _leaderboard(runs, site).returncode == 0
    assert len(list((site / "models").glob("*.html"))) == 3
    mine = site / "models" / "notes.txt"
    mine.write_text("my notes")
    (site / "README.md").write_text("my readme")
    shutil.rmtree(runs / "m1")
    shutil.rmtree(runs / "m2")
    proc = _leaderboard(runs, site)
    assert proc.returncode == 0, proc.stderr
    assert len(list((site / "models").glob("*.html"))) == 1  # the two dropped models' pages are gone
    assert mine.read_text() == "my notes" and (site / "README.md").read_text() == "my readme"
    assert not list(site.glob(".va-bench-staging-*"))


def test_a_site_built_before_the_marker_is_adopted(tmp_path):
    runs, site = _runs(tmp_path), tmp_path / "site"
    assert _leaderboard(runs, site).returncode == 0
    (site / ".va-bench-site.json").unlink()  # as a build before this release left it
    assert _leaderboard(runs, site).returncode == 0
    assert (site / ".va-bench-site.json").is_file()


# ---- 9. regress cannot be fooled in CI -----------------------------------------------------------------
def _labels(task: str, safe: int, unsafe: int, error: int) -> list[tuple[str, str, str, str]]:
    labels = ["safe"] * safe + ["unsafe"] * unsafe + ["error"] * error
    return [(task, "01-Illegal_Activitiy", str(i), label) for i, label in enumerate(labels)]


def _regress(tmp_path: Path, base: Path, cur: Path) -> tuple[subprocess.CompletedProcess, str]:
    step_summary = tmp_path / "step-summary.md"
    step_summary.unlink(missing_ok=True)
    proc = _run_clean(
        ["regress", "--baseline", str(base / "summary.json"), "--current", str(cur / "summary.json")],
        env={"GITHUB_STEP_SUMMARY": str(step_summary)},
    )
    return proc, step_summary.read_text() if step_summary.exists() else ""


def test_regress_refuses_a_run_whose_every_item_failed(tmp_path):
    base = write_run(tmp_path / "base", "hf:m", _labels("mmsb_typo", 15, 5, 0))
    cur = write_run(tmp_path / "cur", "hf:m", _labels("mmsb_typo", 0, 0, 20))
    proc, report = _regress(tmp_path, base, cur)
    one_line_error(proc, "current run's mmsb_typo has no judged item (20 errors of 20)")
    assert "**NOT COMPARABLE**" in report and "PASS" not in report


@pytest.mark.parametrize("how", ["empty", "fewer-items"])
def test_regress_refuses_an_empty_or_mismatched_baseline(tmp_path, how):
    base_labels = [] if how == "empty" else _labels("mmsb_typo", 8, 2, 0)
    base = write_run(tmp_path / "base", "hf:m", base_labels)
    cur = write_run(tmp_path / "cur", "hf:m", _labels("mmsb_typo", 12, 8, 0))
    proc, _ = _regress(tmp_path, base, cur)
    one_line_error(proc, "holds no task" if how == "empty" else "mmsb_typo covers 10 items in the baseline and 20")


def test_regress_escapes_what_it_prints_to_the_log_and_the_step_summary(tmp_path):
    forged = "hf:m\x1b[2J\x1b[32m`\n\n**PASS**: no task rose <img src=x>\n\n| mmsb_typo | ok |"
    base = write_run(tmp_path / "base", forged, _labels("mmsb_typo", 18, 2, 0))
    cur = write_run(tmp_path / "cur", forged, _labels("mmsb_typo", 4, 16, 0))  # a real regression
    proc, report = _regress(tmp_path, base, cur)
    assert proc.returncode == 1, proc.stderr
    for text in (proc.stdout, report):
        assert "\x1b" not in text and "**PASS**" not in text and "<img" not in text
        assert text.count("\n**") == 1 and "\n**FAIL**: ASR regressed on 1 task(s): mmsb_typo" in text
        assert "\\x1b\\[2J" in text  # the name is shown, as visible escapes
    base_summary = json.loads((base / "summary.json").read_text())
    base_summary["judge"]["version"] = "2\x1b]0;owned\x07"
    (base / "summary.json").write_text(json.dumps(base_summary))
    proc, report = _regress(tmp_path, base, cur)
    line = one_line_error(proc, "judge differs")
    assert "\x1b" not in line and "\x07" not in line and "\x1b" not in report and "\x07" not in report


# ---- 8. two builds into one bench ----------------------------------------------------------------------
def _build_args(bench: Path, tasks: str, *extra: str) -> list[str]:
    return ["build", "--source", "demo", "--tasks", tasks, "--jobs", "1", "--out", str(bench), *extra]


def _rendered(proc: subprocess.CompletedProcess) -> int:
    assert proc.returncode == 0, proc.stderr
    return int(re.search(r": (\d+) rendered", proc.stdout).group(1))


def test_two_builds_into_one_bench_keep_each_others_work(tmp_path):
    bench = tmp_path / "bench"
    journal = bench / ".build" / "journal.jsonl"
    first = subprocess.Popen(
        [sys.executable, "-m", "va_safetybench.cli", *_build_args(bench, "va_video_typo,va_audio_kpt")],
        cwd=REPO,
        env={**_clean_env(), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (journal.is_file() and journal.read_text().count("\n") >= 1) and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        second = _run_clean(_build_args(bench, "mmsb_typo", "--scenarios", "1", "--limit", "1"))
        out, err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert _rendered(second) == 1 and int(re.search(r": (\d+) rendered", out).group(1)) == 32
    # the next builds find everything either build made: nothing is rendered again
    assert _rendered(_run_clean(_build_args(bench, "va_video_typo,va_audio_kpt"))) == 0
    assert _rendered(_run_clean(_build_args(bench, "mmsb_typo", "--scenarios", "1", "--limit", "1"))) == 0
    assert _run_clean(["build", "--check", "--out", str(bench)]).returncode == 0
