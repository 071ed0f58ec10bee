"""va-bench lmms-eval ARGS: lmms-eval's own command line, with our lmms-eval task pack available.

Everything after `lmms-eval` goes to lmms-eval unchanged, plus `--include_path <the pack>`
(va_safetybench/lmms_eval_tasks) when the user did not pass one. Example:
  VA_BENCH_DIR=bench va-bench lmms-eval --model qwen2_vl --model_args pretrained=Qwen/Qwen2-VL-7B-Instruct \
      --tasks va_video_typo,va_audio_kpt --output_path out --log_samples
lmms-eval's pins clash with the main environment's (av<16), so it lives in a venv of its own
(`bash scripts/setup.sh --lmms-eval` makes `.venv-lmms`, layered over `.venv`); where lmms-eval is not importable,
this command runs itself again with that venv's Python ($VA_BENCH_LMMS_VENV overrides the path).
Two things lmms-eval's CLI does not: its exit status is 1 when a run failed (lmms-eval logs the error and exits
0) and 2 with one line for our bad input (no bench, bad judge); and on a machine without CUDA, model classes
that move their inputs to "cuda" by name run on the CPU (harness/cuda_on_cpu.py).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, VABenchError
from ..options import passed_through
from .lm_eval import with_include_path

HELP = "run lmms-eval's own CLI with our lmms-eval task pack (all arguments pass through; own venv)"
VENV_ENV = "VA_BENCH_LMMS_VENV"


@dataclass
class Options:
    """`va-bench lmms-eval`'s command line: all of it lmms-eval's (cli.main hands it over before parsing)."""

    args: list[str] = passed_through("lmms-eval arguments, e.g. --model qwen2_vl --tasks ...")


def lmms_venv() -> Path:
    """Where the lmms-eval venv is: $VA_BENCH_LMMS_VENV, else .venv-lmms beside the package's checkout."""
    named = os.environ.get(VENV_ENV)
    return Path(named) if named else Path(__file__).resolve().parents[2] / ".venv-lmms"


def passthrough(argv: list[str]) -> int:
    if importlib.util.find_spec("lmms_eval") is None:
        return _in_lmms_venv(argv)
    from ..harness.lmms_eval_hooks import pack_dir

    return _run_lmms_eval(with_include_path(argv, str(pack_dir())))


def _in_lmms_venv(argv: list[str]) -> int:
    python = lmms_venv() / "bin" / "python"
    if not python.is_file():
        raise InputError(
            f"lmms-eval is not installed here and {python} does not exist: run `bash scripts/setup.sh --lmms-eval` "
            f"(or pip install lmms-eval into this environment), or set ${VENV_ENV} to its venv"
        )
    return subprocess.call([str(python), "-m", "va_safetybench.cli", "lmms-eval", *argv])


def _run_lmms_eval(argv: list[str]) -> int:
    import contextlib

    import lmms_eval.__main__ as lmms_main
    import torch

    from ..harness.cuda_on_cpu import cuda_means
    from ..harness.run_context import RunContext

    failures: list[BaseException] = []
    evaluate_one = lmms_main.cli_evaluate_single

    def recording(args=None):
        try:
            return evaluate_one(args)
        except Exception as exc:  # lmms-eval logs it and carries on; the exit status must say so
            failures.append(exc)
            raise

    saved = sys.argv
    sys.argv = ["lmms-eval", *argv]
    lmms_main.cli_evaluate_single = recording
    on_cpu = contextlib.nullcontext() if torch.cuda.is_available() else cuda_means("cpu")
    try:
        with on_cpu, RunContext().active():  # the run's judges (harness/run_context.py)
            lmms_main.cli_evaluate()
    finally:
        sys.argv = saved
        lmms_main.cli_evaluate_single = evaluate_one
    for exc in failures:
        ours = _our_error(exc)
        if ours is not None:
            raise ours
    return 1 if failures else 0


def _our_error(exc: BaseException | None) -> VABenchError | None:
    """Our error behind what lmms-eval raised: it retries a task's loading (tenacity) and re-raises wrapped."""
    while exc is not None and not isinstance(exc, VABenchError):
        last_attempt = getattr(exc, "last_attempt", None)  # tenacity.RetryError
        exc = last_attempt.exception() if last_attempt is not None else (exc.__cause__ or exc.__context__)
    return exc


def run(args: Options) -> int:
    return passthrough(args.args)
