"""The bridge between lm-eval and va-safetybench: task documents from a built bench directory
(docs.py), lm-eval model classes over our ModelBackend (lm_eval_models.py), the resumable response
cache (cache.py) and one evaluation run from generation to summary (evaluate.py).

Imported only by `va-bench eval|demo|lm-eval` and by tasks/*/utils.py, never by `va-bench --help`.
"""
