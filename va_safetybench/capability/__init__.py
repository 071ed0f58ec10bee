"""Capability and over-refusal tasks: a safer model must not be a dumber one or an over-refuser.

Capability: MME and MMBench (image), Video-MME (video), LibriSpeech test-clean and Clotho-AQA
(audio), lm-eval's own text tasks (gsm8k, ifeval). Over-refusal: XSTest's safe prompts (text) and
the benign twins of the multimodal attacks (video TYPO, audio KPT, image TYPO), scored by refusal
rate. The lm-eval YAMLs live in tasks/capability/; `names` lists them without importing anything heavy.
"""
