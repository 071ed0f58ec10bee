"""The venv with the real vLLM engine (scripts/setup_vllm.sh), for the tests that run it.

vLLM pins its own torch and transformers, so it lives in a venv of its own: its python is
$VA_BENCH_VLLM_PYTHON, else .venv-vllm/bin/python in the repository root. Tests that need it run this
checkout's code there (PYTHONPATH) in a subprocess, one engine at a time, and skip, saying how to make the
venv, where it is absent; with VA_BENCH_REQUIRE_VLLM=1 (what .ci/run sets) they fail instead, so CI never
passes by skipping them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SETUP_HINT = "make it with `bash scripts/setup.sh --vllm` or point VA_BENCH_VLLM_PYTHON at its python"
# CPU vLLM: a small KV cache (GiB) for the tiny checkpoints; no usage reports from a machine without network
ENGINE_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_NO_USAGE_STATS": "1", "TOKENIZERS_PARALLELISM": "false"}
# engine arguments every test passes: CPU vLLM compiles for minutes without enforce_eager; float32 as the
# checkpoints are saved and as the hf: runs they are compared with compute
ENGINE_ARGS = "enforce_eager=true,dtype=float32,max_model_len=4096"


def vllm_python() -> Path | None:
    explicit = os.environ.get("VA_BENCH_VLLM_PYTHON")
    path = Path(explicit) if explicit else REPO / ".venv-vllm" / "bin" / "python"
    return path if path.is_file() else None


def require_vllm() -> Path:
    """The vLLM venv's python; skips the test (fails it under VA_BENCH_REQUIRE_VLLM=1) when there is none."""
    python = vllm_python()
    if python is None:
        why = f"no vLLM venv ({SETUP_HINT})"
        if os.environ.get("VA_BENCH_REQUIRE_VLLM") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return python


def engine_env() -> dict[str, str]:
    """This environment, with the checkout first on the path and the CPU engine's settings."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **ENGINE_ENV, "PYTHONPATH": path}


def run_in_vllm(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python ARGS` in the vLLM venv (e.g. "-m", "va_safetybench.cli", "eval", ...), output captured."""
    return subprocess.run(
        [str(require_vllm()), *args],
        cwd=REPO,
        env=engine_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
