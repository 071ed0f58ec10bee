"""LibriSpeech WER as lmms-eval reports it.

Peer: EvolvingLMMs-Lab/lmms-eval at HEAD 75571cfe: lmms_eval/tasks/librispeech/utils.py (4be7ee0e:
`librispeech_wer`, `remove_sp`), lmms_eval/tasks/asr_wer_utils.py (d8fcb9c3: `compute_wer`, `_normalize`,
`EvaluationTokenizer`), lmms_eval/tasks/librispeech/whisper_normalizer/{english.py, basic.py, english.json}.
Expected word strings worked out from that chain and checked once against the peer's own functions on the same
strings (a British spelling, numbers, titles, contractions, fillers, symbols, diacritics, special tokens).
"""

from __future__ import annotations

import math
import random

import pytest

from va_safetybench.capability import librispeech
from va_safetybench.capability.wer import corpus_wer_percent, edit_distance, strip_specials, words

# (text, the words lmms-eval's chain compares)
TABLE = [
    ("Mr. Quilter, APOSTLE of the middle-classes!", "mister quilter apostle of the middle classes"),
    ("The colour was realised in the centre.", "the color was realized in the center"),  # the spelling map
    ("<|en|>HE HOPED THERE WOULD BE STEW FOR DINNER", "he hoped there would be stew for dinner"),  # special token
    ("He hoped there'd be stew, for lunch.", "he hoped there would be stew for lunch"),
    ("I paid $20 million , honestly !", "i paid 20000000 honestly"),  # English pass: $20000000; basic drops "$"
    ("twenty dollars", "20"),
    ("Hmm, mhm, uh, I mean it.", "i mean it"),  # fillers
    ("It's 3:30 pm at St. Paul's.", "it is 3 30 pm at saint paul is"),
    ("Dr. Smith won't go — ever.", "doctor smith will not go ever"),
    ("naïve café œuvre", "naive cafe oeuvre"),
    ("one oh one", "101"),
    ("I have two apples", "i have 2 apples"),
    ("[laughs] well (inaudible) okay", "well okay"),  # bracketed asides
    ("", ""),
]


@pytest.mark.parametrize("text, expected", TABLE)
def test_normaliser_chain_equals_lmms_eval(text, expected):
    assert " ".join(words(text)) == expected


def test_special_tokens_and_spaces_before_punctuation():
    assert strip_specials("  <|en|>hello , world !<|endoftext|>") == "hello, world! "


def test_wer_is_x100_over_the_corpus_and_empty_references_count_insertions():
    refs = ["HE HOPED THERE WOULD BE STEW FOR DINNER", "THE COLOUR WAS GREY", ""]
    hyps = ["He hoped there'd be stew, for lunch.", "the color was gray <|endoftext|>", "hello there"]
    docs = [{"text": r} for r in refs]
    pairs = [librispeech.process_results(d, [h])["wer_percent"] for d, h in zip(docs, hyps)]
    # 1 substitution (dinner/lunch) + 0 (colour/grey spelled the American way) + 2 insertions over 8 + 4 words
    assert corpus_wer_percent(pairs) == pytest.approx(25.0)
    assert corpus_wer_percent(pairs[:1]) == pytest.approx(12.5)
    assert math.isnan(corpus_wer_percent([("", "anything")]))


def test_edit_distance_agrees_with_jiwer():
    jiwer = pytest.importorskip("jiwer")
    rng = random.Random(0)
    vocab = "a b c d e".split()
    for _ in range(200):
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 12))]
        hyp = [rng.choice(vocab) for _ in range(rng.randint(0, 12))]
        out = jiwer.process_words(" ".join(ref), " ".join(hyp))
        assert edit_distance(ref, hyp) == out.substitutions + out.deletions + out.insertions
