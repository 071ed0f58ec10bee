"""Answers out of free-form model text: option letters, yes/no, transcripts.

Generative models answer "B", "(B)", "B. Paris" or "The answer is B"; the benchmarks' own scorers
accept all of these (MMBench's exact matching before its GPT fallback, Video-MME's letter
regex), so one extractor serves every multiple-choice task here. No GPT fallback: an answer
we cannot read is wrong, and the share of unreadable answers is visible in the sample logs.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

_ANSWER_IS = re.compile(r"(?:answer|option|choice)\s*(?:is|:)?\s*:?\s*\(?([A-Z])\)?(?![A-Za-z])", re.IGNORECASE)
_LEADING = re.compile(r"^\s*[\(\[]?([A-Z])(?:[\)\].:,]|\s*$)")
_PARENTHESISED = re.compile(r"\(([A-Z])\)")


def extract_letter(response: str, options: dict[str, str]) -> str | None:
    """The option letter a response picks, or None.

    In order: "The answer is B" / "Answer: (B)"; a leading "B", "(B)", "B." or "B)"; a single
    "(B)" anywhere (two different ones: no answer); else the one option whose text the response contains (case-insensitive).
    Letters outside `options` never count.
    """
    text = (response or "").replace("*", "").strip()  # markdown bold: "**B**"
    letters = set(options)
    m = _ANSWER_IS.search(text)
    if m and m.group(1) in letters:
        return m.group(1)
    found = {m for m in _PARENTHESISED.findall(text) if m in letters}
    if len(found) > 1:
        return None  # "(A) or (B)": no single choice
    m = _LEADING.search(text)
    if m and m.group(1) in letters:
        return m.group(1)
    if found:
        return found.pop()
    low = text.lower()
    named = [k for k, v in options.items() if v and str(v).strip().lower() in low]
    return named[0] if len(named) == 1 else None


def parse_yes_no(response: str) -> str:
    """'yes' | 'no' | 'other', as MME's own calculation.py does: the whole answer, else its first 4 characters."""
    text = (response or "").strip().lower()
    if text in ("yes", "no"):
        return text
    prefix = text[:4]
    if "yes" in prefix:
        return "yes"
    if "no" in prefix:
        return "no"
    return "other"


@lru_cache(maxsize=1)
def _english_normalizer():
    """Whisper's EnglishTextNormalizer (from transformers) without the British->American spelling map,
    which ships only with Whisper tokenizer files; None when transformers lacks it."""
    try:
        from transformers.models.whisper.english_normalizer import EnglishTextNormalizer
    except ImportError:
        return None
    return EnglishTextNormalizer({})


_PUNCT = str.maketrans({c: " " for c in string.punctuation if c != "'"})


def normalize_transcript(text: str) -> str:
    """Text as WER compares it: Whisper's English normaliser, else lowercase + punctuation stripped."""
    norm = _english_normalizer()
    if norm is not None:
        return " ".join(norm(text or "").split())
    return " ".join((text or "").lower().translate(_PUNCT).replace("'", "").split())
