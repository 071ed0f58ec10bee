"""Data-parallel eval: `accelerate launch` over `va-bench eval --model hf:DIR`, two CPU processes (gloo).

The two ranks split the items (lm-eval's own sharding), each caching its responses in its own shard; rank 0
gathers and writes the run directory. It must equal a one-process run's on the same items, and a run whose
rank is killed must resume from what both ranks had finished.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from va_safetybench.cli import main

from .conftest import REPO
from .harness_support import ONE_THREAD_ENV, build_small_bench, read_jsonl

pytestmark = pytest.mark.slow

TASKS = "va_video_text_only,va_video_typo"


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    from va_safetybench.models.tiny import save_tiny

    root = tmp_path_factory.mktemp("dp")
    save_tiny("qwen2-vl", str(root / "model"), shape="mini")
    bench = build_small_bench(root / "bench", tasks=TASKS, scenarios=None, limit=1)  # 8 items per task
    args = ["--model", f"hf:{root / 'model'}", "--tasks", TASKS, "--bench", str(bench), "--max-new-tokens", "24"]
    args += ["--batch-size", "1"]  # one item per forward pass: the same numbers whichever rank runs it
    assert main(["eval", *args, "--out", str(root / "one")]) == 0  # the reference: one process
    return {"args": args, "one": root / "one"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args: list[str], out: Path, *extra: str) -> subprocess.Popen:
    """`accelerate launch --multi_gpu --num_processes 2 -m va_safetybench.cli eval ARGS --out OUT`: torchrun's
    launcher under accelerate (its --cpu mode starts several processes only through MPI); without CUDA each
    process runs on the CPU and the group is gloo's."""
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    command += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    command += ["--main_process_port", str(_free_port()), "-m", "va_safetybench.cli", "eval", *args]
    return subprocess.Popen(
        [*command, "--out", str(out), *extra],
        cwd=REPO,
        env={**os.environ, **ONE_THREAD_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(proc: subprocess.Popen, timeout: float = 900) -> str:
    output, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, output[-4000:]
    return output


def comparable(run: Path) -> dict:
    """What a run found: its summary's counts and rates, every response, lm-eval's metrics."""
    summary = json.loads((run / "summary.json").read_text())
    results = json.loads((run / "lm_eval" / "results.json").read_text())["results"]
    rows = sorted(read_jsonl(run / "responses.jsonl"), key=lambda r: (r["task"], r["scenario"], r["id"]))
    return {
        "tasks": summary["tasks"],
        "groups": summary.get("groups"),
        "errors": summary["errors"],
        "responses": [(r["task"], r["scenario"], r["id"], r["response"], r["verdict"]["label"]) for r in rows],
        "lm_eval": results,
    }


def test_two_processes_write_the_run_one_process_writes(setup, tmp_path):
    output = finished(launch(setup["args"], tmp_path / "two"))
    assert re.search(r"16 generated, 0 from cache", output), output[-2000:]
    assert comparable(tmp_path / "two") == comparable(setup["one"])
    shards = sorted(p.name for p in (tmp_path / "two" / "cache").glob("generations*.jsonl"))
    assert shards == ["generations.rank0.jsonl", "generations.rank1.jsonl"]  # each rank cached its own share


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The pid of the eval process of `rank` under the launcher (its RANK in the environment)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"va_safetybench.cli" in cmdline and f"RANK={rank}".encode() in environ and int(proc.name) != launcher:
            return int(proc.name)
    return None


def _keys(cache: Path) -> list[str]:
    return [
        json.loads(line)["key"]
        for shard in sorted(cache.glob("generations*.jsonl"))
        for line in shard.read_text().splitlines()
        if line.endswith("}")
    ]


def test_a_run_killed_in_one_rank_resumes(setup, tmp_path):
    out = tmp_path / "two"
    proc = launch(setup["args"], out)
    cache = out / "cache"
    deadline = time.monotonic() + 600
    victim = None
    while time.monotonic() < deadline and proc.poll() is None:
        shard = cache / "generations.rank1.jsonl"
        if shard.exists() and len(shard.read_text().splitlines()) >= 2:
            victim = _rank_pid(proc.pid, 1)
            if victim is not None:
                os.kill(victim, signal.SIGKILL)
                break
        time.sleep(0.05)
    assert victim is not None, "rank 1 never cached two responses"
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0  # the launcher saw its rank die
    before = _keys(cache)
    assert 2 <= len(before) < 16, f"kill landed at {len(before)} of 16 cached responses"

    output = finished(launch(setup["args"], out))  # the same command again
    match = re.search(r"(\d+) generated, (\d+) from cache", output)
    assert match and (int(match[1]), int(match[2])) == (16 - len(before), len(before)), output[-2000:]
    after = _keys(cache)
    assert len(after) == len(set(after)) == 16  # nothing generated twice
    assert comparable(out) == comparable(setup["one"])
