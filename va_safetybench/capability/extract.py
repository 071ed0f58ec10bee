"""Yes/no answers, read as lmms-eval's MME scorer reads them (shared by MME and Clotho-AQA's yes/no questions).

Multiple-choice letters are mcq.py's job, transcripts wer.py's.
"""

from __future__ import annotations


def parse_yes_no(response: str) -> str:
    """'yes' | 'no' | 'other', as lmms-eval's `parse_pred_ans` (tasks/mme/utils.py, commit d0c1eae7) reads an answer.

    Lower-cased, stripped and with every "." removed: the whole answer "yes"/"no"; a one-character answer
    "y"/"n"; else "yes" or "no" inside its first four characters ("yes" looked for first).
    """
    text = (response or "").lower().strip().replace(".", "")
    if text in ("yes", "no"):
        return text
    if len(text) == 1:
        return {"y": "yes", "n": "no"}.get(text, "other")
    head = text[:4]
    if "yes" in head:
        return "yes"
    if "no" in head:
        return "no"
    return "other"
