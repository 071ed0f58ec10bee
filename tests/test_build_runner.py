"""The build runner: incremental, resumable after SIGKILL, atomic, and safe on bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, run_cli


def _journal_lines(bench: Path) -> int:
    journal = bench / ".build" / "journal.jsonl"
    return len(journal.read_text().splitlines()) if journal.exists() else 0


def _summary_counts(stdout: str) -> tuple[int, int]:
    # "built DIR: R rendered, S up to date, F failed, T s"
    tail = stdout.strip().splitlines()[-1].split(": ", 1)[1]
    rendered, skipped = (int(part.split()[0]) for part in tail.split(", ")[:2])
    return rendered, skipped


def test_killed_build_resumes_without_redoing_or_duplicating(tmp_path: Path, shared_data: Path) -> None:
    bench = tmp_path / "bench"
    args = [
        "build",
        "--source",
        str(shared_data),
        "--tasks",
        "mmsb_typo",
        "--limit",
        "6",
        "--jobs",
        "2",
        "--out",
        str(bench),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "va_safetybench.cli", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while _journal_lines(bench) < 10 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its worker processes, mid-build
    proc.wait()
    done_before = _journal_lines(bench)
    assert 10 <= done_before < 13 * 6, "the kill should land mid-build"

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    rendered, skipped = _summary_counts(result.stdout)
    assert skipped >= done_before and rendered + skipped == 13 * 6
    files = sorted((bench / "Image").rglob("*.jpg"))
    assert len(files) == 13 * 6 and len({f.relative_to(bench) for f in files}) == len(files)
    assert not any((bench / ".build" / "tmp").iterdir())
    manifest = [json.loads(line) for line in (bench / "manifests" / "mmsb_typo.jsonl").read_text().splitlines()]
    assert len(manifest) == 13 * 6 and all(e["status"] == "ok" for e in manifest)
    check = run_cli("build", "--check", "--out", str(bench))
    assert check.returncode == 0, check.stderr

    again = run_cli(*args)  # a no-op rebuild renders nothing
    assert _summary_counts(again.stdout) == (0, 13 * 6)


def test_bad_font_and_unknown_task_fail_in_one_line_and_keep_the_build(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    assert run_cli("build", "--source", "demo", "--tasks", "mmsb_typo", "--out", str(bench)).returncode == 0
    before = {p: p.read_bytes() for p in bench.rglob("*") if p.is_file() and ".build" not in p.parts}

    base = ["build", "--source", "demo", "--out", str(bench)]
    cases = {
        str(tmp_path / "no-such-font.ttf"): ["--tasks", "mmsb_typo", "--font", str(tmp_path / "no-such-font.ttf")],
        "va_video_tpyo": ["--tasks", "mmsb_typo,va_video_tpyo"],
    }
    for named, extra in cases.items():
        result = run_cli(*base, *extra)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("va-bench: error:") and named in lines[0]
    after = {p: p.read_bytes() for p in bench.rglob("*") if p.is_file() and ".build" not in p.parts}
    assert after == before


def test_unwritable_output_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("build", "--source", "demo", "--tasks", "mmsb_typo", "--out", str(blocker / "bench"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "cannot write there" in result.stderr


def test_check_reports_a_deleted_file(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    assert (
        run_cli("build", "--source", "demo", "--tasks", "mmsb_typo", "--limit", "1", "--out", str(bench)).returncode
        == 0
    )
    victim = next((bench / "Image").rglob("*.jpg"))
    victim.unlink()
    result = run_cli("build", "--check", "--out", str(bench))
    assert result.returncode == 1
    assert "is missing" in result.stderr and victim.name in result.stderr


@pytest.mark.parametrize("option", [["--limit", "0"], ["--jobs", "0"], ["--scenarios", "42"]])
def test_bad_options_exit_2(tmp_path: Path, option: list[str]) -> None:
    result = run_cli("build", "--source", "demo", "--tasks", "mmsb_typo", "--out", str(tmp_path / "b"), *option)
    assert result.returncode == 2 and option[0] in result.stderr
