"""MME (and Clotho-AQA's yes/no questions) read as lmms-eval reads them.

Peer: EvolvingLMMs-Lab/lmms-eval, lmms_eval/tasks/mme/utils.py `parse_pred_ans` at commit d0c1eae7 (unchanged at
HEAD 75571cfe): lower-case, strip, delete every "."; "yes"/"no" whole; a single "y"/"n"; else "yes" then "no"
searched in the first four characters. Expected labels worked out from that rule, checked once against the peer's
function on the same strings.
"""

from __future__ import annotations

import pytest

from va_safetybench.capability import mme
from va_safetybench.capability.extract import parse_yes_no

# (answer, lmms-eval's label, the rule that decides)
TABLE = [
    ("Yes", "yes", "whole answer"),
    ("no", "no", "whole answer"),
    ("yes.", "yes", "dots deleted, then whole"),
    ("...yes", "yes", "dots deleted, then whole"),
    ("Y", "yes", "one character"),
    ("y.", "yes", "one character once the dot is gone"),
    ("n", "no", "one character"),
    ("N.", "no", "one character once the dot is gone"),
    ("x", "other", "one character, neither y nor n"),
    ("Yes, there is a cat.", "yes", "'yes' in the first four characters"),
    (" No.", "no", "stripped, dots deleted, whole"),
    ("No, there is none.", "no", "'no' in the first four characters"),
    ("Not at all", "no", "'no' in 'not '"),
    ("noise", "no", "'no' in 'nois'"),
    ("Yes and no", "yes", "'yes' is looked for first"),
    ("yes!", "yes", "'yes' in 'yes!'"),
    ("**Yes**", "other", "markdown pushes 'yes' past the first four characters"),
    ("I think yes", "other", "nothing in 'i th'"),
    ("The answer is no", "other", "nothing in 'the '"),
    ("There is a cat", "other", "nothing in 'ther'"),
    ("unknown", "other", "nothing in 'unkn'"),
    ("", "other", "empty"),
]


@pytest.mark.parametrize("answer, label, why", TABLE)
def test_mme_reading_equals_lmms_eval(answer, label, why):
    assert parse_yes_no(answer) == label, why


def test_mme_scores_follow_the_reading(tmp_path):
    """One image's two questions (answers yes, no) answered "Y" and "n": both right, so acc and acc+ are full."""
    from .capability_data import write_mme

    docs = mme.load_rows({"mme_path": str(write_mme(tmp_path / "mme").parent.parent)})
    first, second = docs[0], docs[1]
    assert (first["answer"], second["answer"]) == ("yes", "no")
    entries = [mme.process_results(first, ["Y"])["mme_perception_score"], mme.process_results(second, ["n"])["acc"]]
    assert entries[0][2] is True and entries[1] == 1.0
    pair = [mme.process_results(d, [a])["mme_perception_score"] for d, a in ((first, "Y"), (second, "n."))]
    assert mme.perception(pair) == pytest.approx(200.0)  # (acc 1 + acc+ 1) x 100
