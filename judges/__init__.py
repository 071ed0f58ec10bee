"""Judges: model response -> verdict (safe / unsafe / error; refusal_gpt.py: XSTest refusal classes).

Imports nothing from the model code (`va_safetybench.models`, `sea_align`); only
`va_safetybench.errors` and the scenario table. Heavy libraries (openai, torch,
transformers) load inside the judge that needs them. Entry point: `registry.make_judge`.
"""
