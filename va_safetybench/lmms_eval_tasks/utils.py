"""Thin lmms-eval hooks: the documents, media and judging in va_safetybench.harness.lmms_eval_hooks, the
metrics' aggregations in va_safetybench.harness.metrics (see their docstrings)."""

from va_safetybench.harness.lmms_eval_hooks import (  # noqa: F401  (referenced by the YAMLs as !function utils.NAME)
    bench_docs,
    doc_to_text,
    doc_to_visual,
    process_results,
)
from va_safetybench.harness.metrics import official_scenario_macro, scenario_macro  # noqa: F401


def __getattr__(name: str):
    """`process_docs` of task `name` (the YAMLs' `!function utils.<task>`): lmms-eval passes it only the loaded
    stub, so the task's name comes from the function's."""
    from va_safetybench.taskspec import TASKS

    if name not in TASKS:
        raise AttributeError(name)

    def process_docs(_stub):
        return bench_docs(name)

    return process_docs
