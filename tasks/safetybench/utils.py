"""Thin lm-eval hooks: documents in va_safetybench.harness.docs, judging and metrics in
va_safetybench.harness.metrics (see their docstrings)."""

from va_safetybench.harness.docs import (  # noqa: F401  (referenced by the YAMLs as !function utils.NAME)
    doc_to_audio,
    doc_to_image,
    doc_to_text,
    load_dataset,
)
from va_safetybench.harness.metrics import (  # noqa: F401
    JudgeFilter,
    official_scenario_macro,
    process_results,
    scenario_macro,
)
