"""Word error rate as lmms-eval reports it for LibriSpeech (tasks/librispeech/utils.py, tasks/asr_wer_utils.py,
EvolvingLMMs-Lab/lmms-eval commit 4be7ee0e): x 100, over the corpus, after the same normaliser chain.

The chain, applied to reference and hypothesis alike:
1. special tokens such as "<|en|>" become spaces, whitespace runs one space, the space before ! , . ? ; : goes;
2. Whisper's EnglishTextNormalizer *with* its British -> American spelling map ("colour" -> "color"),
   numbers spelled out -> digits, "mr" -> "mister", contractions expanded, fillers dropped;
3. Whisper's BasicTextNormalizer (symbols -> spaces, e.g. the "$" the English pass leaves);
4. words that are punctuation only are dropped, the rest lower-cased.
Both normalisers are Whisper's own, from the `whisper-normalizer` package (its english.json is Whisper's spelling
map; on 20,000 random strings it agrees with lmms-eval's vendored copy). WER = the summed word-level edit
distances over the summed reference lengths: references that normalise to nothing add their hypothesis words
as insertions, as upstream.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ..errors import require_extra

_SPECIAL = re.compile(r"<\|.*?\|>")
_SPACE_BEFORE_PUNCT = re.compile(r" ?([!,.?;:])")


@lru_cache(maxsize=1)
def _normalizers():
    needed_by, package = "librispeech WER (Whisper's text normalisers)", "whisper-normalizer>=0.1.15"
    basic = require_extra("whisper_normalizer.basic", None, needed_by, package)
    english = require_extra("whisper_normalizer.english", None, needed_by, package)
    return english.EnglishTextNormalizer(), basic.BasicTextNormalizer()


def strip_specials(text: str) -> str:
    """Step 1: lmms-eval's remove_sp for English."""
    text = re.sub(r"\s+", " ", _SPECIAL.sub(" ", text))
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).lstrip(" ")


def _is_punctuation(word: str) -> bool:
    return all(unicodedata.category(c)[0] == "P" for c in word)  # True for "": empty pieces go too


def words(text: str) -> list[str]:
    """The words WER compares: steps 1-4."""
    english, basic = _normalizers()
    normalised = basic(english(strip_specials(text or "")))
    kept = " ".join(w for w in normalised.split(" ") if not _is_punctuation(w))
    return kept.lower().split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between two word lists (substitutions, deletions, insertions cost 1)."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def corpus_wer_percent(pairs: list[tuple[str, str]]) -> float:
    """(normalised reference, normalised hypothesis) word strings -> 100 x total edits / total reference words."""
    edits = total = 0
    for ref, hyp in pairs:
        r, h = ref.split(), hyp.split()
        edits += edit_distance(r, h)
        total += len(r)
    return 100 * edits / total if total else float("nan")
