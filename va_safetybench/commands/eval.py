"""va-bench eval: generate with one model on built tasks through lm-eval, judge, summarise.

Resumable: responses are cached under RUN_DIR/cache as they are generated, so running the same
command again after a crash or Ctrl-C only generates what is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..harness.evaluate import EvalRequest as Options  # its fields are the command's options (options.py)

if TYPE_CHECKING:
    from ..records import Summary


HELP = "evaluate a model on built tasks (lm-eval generation + judge -> responses.jsonl, summary.json)"


def validate(req: Options) -> None:
    """Names and numbers first, before any model or data is loaded (exit 2 with the valid names)."""
    from ..errors import InputError
    from ..harness.evaluate import split_task_names

    split_task_names(req.tasks)  # the model spec was checked when parsed (models.registry.ModelSpec)
    for option in ("limit", "batch_size", "max_new_tokens"):
        value = getattr(req, option)
        if value is not None and value < 1:
            raise InputError(f"--{option.replace('_', '-')} must be at least 1")


def print_summary(summary: Summary | None, out=None, judge_errors: int = 0) -> None:
    """ASR per task and group, capability metrics, refusal rates (numbers only: never benchmark or response text)."""
    from .judge import print_table

    out = out or sys.stdout  # looked up per call: a default bound at import outlives redirected streams
    if summary is None:
        return
    if summary.tasks:
        print_table(summary, out, judge_errors)
    for group, row in summary.groups.items():
        print(
            f"group {group}: macro ASR {_percent(row.asr_macro)}, micro ASR {_percent(row.asr_micro)}, "
            f"official {_percent(row.asr_official_macro)} ({', '.join(row.tasks)})",
            file=out,
        )
    for task, metrics in summary.capability.items():
        print(f"capability {task}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()), file=out)
    for modality, rates in summary.over_refusal.items():
        parts = [f"{judge} {_percent(rate)}" for judge, rate in rates.rates().items()]
        counts = rates.extra.get("gpt_counts")
        if counts:
            parts.append(
                f"gpt counts: {counts['full_refusal']} full, {counts['partial_refusal']} partial refusal(s), "
                f"{counts['full_compliance']} compliance, {counts['error']} error(s)"
            )
        n = f" (n={rates.n})" if rates.n is not None else ""
        print(f"over-refusal {modality}{n}: refusal rate " + ", ".join(parts), file=out)


def _judge_errors(run_dir: Path) -> int:
    """How many of the run's error verdicts the judge gave to real responses (retryable with va-bench judge)."""
    from judges.runs import judge_failures, read_responses

    rows = read_responses(run_dir)
    return judge_failures(rows, [row.verdict.label if row.verdict else "error" for row in rows])


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f}%"


def run(req: Options) -> int:
    validate(req)
    from ..harness.evaluate import run_eval

    result = run_eval(req)
    if not result.primary:  # another rank of a data-parallel run: rank 0 reports
        return 0
    print_summary(result.summary, judge_errors=_judge_errors(result.run_dir) if result.errors else 0)
    print(
        f"{result.run_dir}: {result.generated} generated, {result.cached} from cache, {result.errors} error(s); "
        f"summary.json written"
    )
    if result.errors:
        print(
            f"note: {result.errors} item(s) are errors (see `error` in responses.jsonl), not counted as safe; "
            f"re-running this command retries failed generations"
        )
    if result.summary and result.summary.random_weights:
        print(f"note: {req.model} has random weights: its ASR means nothing")
    return 0
