"""Thin lm-eval hooks: everything lives in va_safetybench.harness.docs (see its docstring)."""

from va_safetybench.harness.docs import (  # noqa: F401  (referenced by the YAMLs as !function utils.NAME)
    doc_to_audio,
    doc_to_image,
    doc_to_text,
    load_dataset,
    process_results,
)
