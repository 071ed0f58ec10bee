"""Shared fixtures, registered once for the whole suite: the repository root, the shared reference data, running
the CLI, and the family checkpoints (tests/family_checkpoints.py: saved once per session, not once per module that
uses them). Tests that take more than a few seconds are marked `slow` (their own marker, or SLOW_MODULES below):
`pytest -m "not slow"` is the fast tier for local work; CI runs everything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .family_checkpoints import family_dirs  # noqa: F401  # a session fixture, registered here once
from .harness_support import ONE_THREAD_ENV

# whole modules of end-to-end runs (tiny models through lm-eval, SEA training, diffusion, headless Chromium)
SLOW_MODULES = frozenset(
    {
        "test_capability_e2e",
        "test_demo_golden",
        "test_eval",
        "test_hardening",
        "test_hardening3",
        "test_leaderboard_browser",
        "test_lm_eval_metrics",
        "test_lm_eval_model_classes",
        "test_lmms_eval_pack",
        "test_model_families",
        "test_official_eval",
        "test_official_media",
        "test_official_reports",
        "test_refusal_gpt",
        "test_sea_families",
        "test_sea_omni",
        "test_sea_optimize",
        "test_sea_train",
        "test_video",
        "test_vllm_families",
        "test_xstest_strmatch",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("VA_BENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
JUDGE_SETS = Path(os.environ.get("VA_BENCH_JUDGE_SETS", REPO.parent / "shared" / "judge_sets"))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "va-safetybench").is_dir():
        pytest.skip(f"official question files not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def judge_sets() -> Path:
    """The human-labelled judge sets (XSTest v2, GPTFuzz, purseclab as JSONL; see their README)."""
    if not (JUDGE_SETS / "xstest_v2.jsonl").is_file():
        pytest.skip(f"human-labelled judge sets not present at {JUDGE_SETS}")
    return JUDGE_SETS


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run `va-bench ARGS` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "va_safetybench.cli", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def build_demo(out: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`va-bench build --source demo --out OUT ARGS`: the built-in demo set, offline."""
    return run_cli("build", "--source", "demo", "--out", str(out), *args, env=env)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """`va-bench demo --limit 1 --judge keyword` as a user runs it (one torch thread, as the golden was made), once
    per session: OUT, with the printout in OUT.parent / "stdout.txt"."""
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "va_safetybench.cli", "demo", "--limit", "1", "--judge", "keyword", "--jobs", "1"]
        + ["--out", str(out)],
        cwd=REPO,
        env={**os.environ, **ONE_THREAD_ENV},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (out.parent / "stdout.txt").write_text(proc.stdout, encoding="utf-8")
    return out
