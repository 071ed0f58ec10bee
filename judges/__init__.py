"""Judges: model response -> verdict (safe / unsafe / error; refusal_gpt.py: XSTest refusal classes), and judging
as a library (runs.py: a run's stored responses -> verdicts -> a summary).

Imports nothing from the model code (`va_safetybench.models`, `sea_align`); from `va_safetybench` only its
errors, endpoints, records, file i/o, the summary writer and the capability tables. Heavy libraries (openai,
torch, transformers) load inside the judge that needs them. Entry points: `registry.make_judge`, `runs.rejudge`.
"""
