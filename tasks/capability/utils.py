"""Thin lm-eval hooks for tasks/capability/*.yaml (lm-eval's `!function utils.NAME` takes flat names only).

Everything lives in va_safetybench.capability; see each module's docstring for source, prompt and metric.
"""

from va_safetybench.capability import benign, clotho_aqa, librispeech, mmbench, mme, refusal, videomme, xstest
from va_safetybench.capability.metrics import mean_present  # noqa: F401
from va_safetybench.capability.wer import corpus_wer_percent  # noqa: F401
from va_safetybench.harness import docs
from va_safetybench.harness.task_errors import report_in_one_line

report_in_one_line()  # our errors (no local copy, a model class refused) under plain lm_eval: one line, not a traceback

mme_load_dataset, mme_doc_to_text, mme_doc_to_image = mme.load_dataset, mme.doc_to_text, mme.doc_to_image
mme_process_results, mme_perception, mme_cognition = mme.process_results, mme.perception, mme.cognition

mmbench_load_dataset, mmbench_doc_to_text = mmbench.load_dataset, mmbench.doc_to_text
mmbench_doc_to_image, mmbench_process_results, mmbench_circular = (
    mmbench.doc_to_image,
    mmbench.process_results,
    mmbench.circular,
)

videomme_load_dataset, videomme_doc_to_text = videomme.load_dataset, videomme.doc_to_text
videomme_doc_to_image, videomme_process_results = videomme.doc_to_image, videomme.process_results

librispeech_load_dataset, librispeech_doc_to_text = librispeech.load_dataset, librispeech.doc_to_text
librispeech_doc_to_audio, librispeech_process_results = librispeech.doc_to_audio, librispeech.process_results

clotho_load_dataset, clotho_doc_to_text = clotho_aqa.load_dataset, clotho_aqa.doc_to_text
clotho_doc_to_audio, clotho_process_results = clotho_aqa.doc_to_audio, clotho_aqa.process_results

xstest_load_dataset, xstest_doc_to_text = xstest.load_dataset, xstest.doc_to_text
benign_load_dataset = benign.load_dataset
bench_doc_to_text, bench_doc_to_image, bench_doc_to_audio = docs.doc_to_text, docs.doc_to_image, docs.doc_to_audio
refusal_process_results = refusal.process_results
