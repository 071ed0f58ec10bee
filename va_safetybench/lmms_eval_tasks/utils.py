"""Thin lmms-eval hooks: the documents, media and judging in va_safetybench.harness.lmms_eval_hooks, the
metrics' aggregations in va_safetybench.harness.metrics (see their docstrings)."""

from va_safetybench.harness.lmms_eval_hooks import (  # noqa: F401  (referenced by the YAMLs as !function utils.NAME)
    bench_docs,
    doc_to_text,
    doc_to_visual,
    process_results,
)
from va_safetybench.harness.metrics import official_scenario_macro, scenario_macro  # noqa: F401


def _docs_of(task: str):
    def process_docs(_stub):
        return bench_docs(task)

    return process_docs


# `process_docs` of each task (lmms-eval passes it only the loaded dataset, not the task's name)
va_video_text_only = _docs_of("va_video_text_only")
va_video_dm = _docs_of("va_video_dm")
va_video_typo = _docs_of("va_video_typo")
va_video_dm_typo = _docs_of("va_video_dm_typo")
va_audio_text_only = _docs_of("va_audio_text_only")
va_audio_only = _docs_of("va_audio_only")
va_audio_kpt = _docs_of("va_audio_kpt")
va_audio_kpt_noise = _docs_of("va_audio_kpt_noise")
mmsb_text_only = _docs_of("mmsb_text_only")
mmsb_sd = _docs_of("mmsb_sd")
mmsb_typo = _docs_of("mmsb_typo")
mmsb_sd_typo = _docs_of("mmsb_sd_typo")
