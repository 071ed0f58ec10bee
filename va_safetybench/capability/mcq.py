"""Option letters out of free-form answers, read the way lmms-eval reads them, so a score here is lmms-eval's score.

Models answer "B", "(B)", "B because it barks", "B\\nIt barks." or "I choose B"; a scorer that reads these
differently from the harness papers compare against makes the capability column mean something else.
Two readers, each following lmms-eval (EvolvingLMMs-Lab/lmms-eval, commit 75571cfe):

- `can_infer` (MMBench's prefetch, tasks/mmbench/mmbench_evals.py): a letter standing alone as a
  whitespace-separated word, else a letter in one of twelve bracket/punctuation forms ("B.", "(B)", ":B"),
  else the one option whose text the answer contains. A letter up to E counts, also when the question has
  fewer options (then it is simply wrong), and a lone "A" in an answer of more than three words is taken
  for the article, not the option.
- `extract_mcq_answer` (tasks/_task_utils/mcq_extract.py; MMBench's static fallback, Video-MME's reader):
  every letter found in one of nine forms gets a priority (answer starts with it > ends with it > after an
  answer phrase > "(B)" > "B." > "B:" > "B)" > "B " > anywhere); the highest priority wins, the latest
  position breaks ties.

`READINGS` names the readings Video-MME can be scored with: "lmms-eval" by default; "lmms-eval+option-text"
adds our own last stage (the one option whose text the answer names, for "It is London." where lmms-eval
finds no letter), which a user opts into with task metadata `videomme_reading`; the summary records which
reading scored a run.
"""

from __future__ import annotations

import string

from ..errors import InputError

API_FAILURE = "Failed to obtain answer via API"  # lmms-eval's marker for a GPT call that failed: never an answer

# lmms-eval's can_infer_option: (prefix, suffix) around a letter, tried in this order
_WRAPPED = (
    ("", "."),
    ("", ","),
    ("", ":"),
    ("", ")"),
    ("", ")."),
    ("(", ")"),
    ("(", ")."),
    (":", ""),
    (":", ","),
    (":", "."),
    (":", ")"),
    (":", ")."),
)
_PREFETCH_LETTERS = string.ascii_uppercase[:5]  # lmms-eval's num_choice=5: "E" is read even for four options

# extract_mcq_answer's answer phrases, in its order (its Korean, Chinese and Japanese phrases included)
_PHRASES = (
    "the answer is",
    "answer is",
    "the correct answer is",
    "correct answer is",
    "the best answer is",
    "best answer is",
    "the correct option is",
    "correct option is",
    "the best option is",
    "best option is",
    "the choice is",
    "choice is",
    "the correct choice is",
    "correct choice is",
    "i choose",
    "i select",
    "i pick",
    "my answer is",
    "my choice is",
    "옵션",
    "정답은",
    "답은",
    "답:",
    "答案是",
    "答案为",
    "选",
    "答えは",
)
_PRIORITY = {
    "start": 10,
    "end": 9,
    "phrase": 7,
    "parentheses": 6,
    "period": 5,
    "colon": 4,
    "right_paren": 3,
    "space": 2,
    "fallback": 0,
}
_EDGE_JUNK = (",", ".", "!", "?", ";", ":", "'", '"')  # stripped one after the other, in this order
DEFAULT_LETTERS = tuple("ABCDEFGH")


def _letter_word(words: list[str], prefix: str = "", suffix: str = "") -> list[str]:
    return [c for c in _PREFETCH_LETTERS if prefix + c + suffix in words]


def can_infer_option(answer: str) -> str | None:
    """The letter lmms-eval's `can_infer_option` reads from `answer`, or None."""
    if API_FAILURE in answer:
        return None
    words = [w.strip() for w in answer.split()]
    bare = _letter_word(words)
    if len(bare) == 1 and not ("A" in words and len(words) > 3):
        return bare[0]
    for prefix, suffix in _WRAPPED:
        found = _letter_word(words, prefix, suffix)
        if len(found) == 1:
            return found[0]
    return None


def can_infer_text(answer: str, options: dict[str, str]) -> str | None:
    """The one option (A-D) whose text occurs in the answer, case-insensitively; None for none or several."""
    low = answer.lower()
    hits = [k for k, v in options.items() if k in "ABCD" and str(v).lower() in low]
    return hits[0] if len(hits) == 1 else None


def can_infer(answer: str, options: dict[str, str]) -> str | None:
    """MMBench's prefetch: a letter form first, else the option text."""
    return can_infer_option(answer) or can_infer_text(answer, options)


def extract_mcq_answer(response: str, letters: tuple[str, ...] | list[str] = DEFAULT_LETTERS) -> str:
    """The letter lmms-eval's `extract_mcq_answer` picks among `letters`, or "" when it finds none."""
    if not response or not response.strip():
        return ""
    letters = letters or DEFAULT_LETTERS
    text = response.strip()
    for junk in _EDGE_JUNK:
        text = text.strip(junk)
    text = f" {text} "
    found: list[tuple[str, int, str]] = []  # (letter, position, form)
    for form, pattern in (
        ("parentheses", "({})"),
        ("period", "{}."),
        ("colon", "{}:"),
        ("right_paren", "{})"),
        ("space", "{} "),
    ):
        for c in letters:
            marked = pattern.format(c)
            if marked in text:
                found.append((c, text.rfind(marked), form))
    low = text.lower()
    for phrase in _PHRASES:
        at = low.find(phrase)
        if at != -1:
            for c in letters:
                pos = text.find(c, at + len(phrase))
                if pos != -1:
                    found.append((c, pos, "phrase"))
    core = text.strip()
    for c in letters:
        if core.startswith(c) and (len(core) == 1 or not core[1].isalpha()):
            found.append((c, 0, "start"))
        if core.endswith(c) and (len(core) == 1 or not core[-2].isalpha()):
            found.append((c, len(text) - 1, "end"))
    if not found:
        found = [(c, text.rfind(c), "fallback") for c in letters if c in text]
    if not found:
        return ""
    return max(found, key=lambda f: (_PRIORITY[f[2]], f[1]))[0]


def option_text_match(response: str, options: dict[str, str]) -> str | None:
    """Our extra stage (not lmms-eval's): the one option whose text the answer names, case-insensitively."""
    low = (response or "").lower()
    hits = [k for k, v in options.items() if v and str(v).strip().lower() in low]
    return hits[0] if len(hits) == 1 else None


READINGS = ("lmms-eval", "lmms-eval+option-text")  # Video-MME's; MMBench's prefetch matches option texts itself
DEFAULT_READING = "lmms-eval"


def check_reading(reading: str | None, task: str) -> str:
    """The reading a task's metadata asked for (default lmms-eval's); an unknown name is an InputError."""
    chosen = reading or DEFAULT_READING
    if chosen not in READINGS:
        raise InputError(f"{task}: unknown answer reading {chosen!r}; valid: {', '.join(READINGS)}")
    return chosen


def mmbench_letter(response: str, options: dict[str, str]) -> str | None:
    """MMBench (lmms-eval's mmbench_en_dev_static): the prefetch (which already matches option texts), else the
    static extractor over the question's own letters."""
    answer = (response or "").strip()
    return can_infer(answer, options) or extract_mcq_answer(answer, sorted(options)) or None


def videomme_letter(response: str, options: dict[str, str], reading: str = DEFAULT_READING) -> str | None:
    """Video-MME (lmms-eval's videomme): extract_mcq_answer over A-D; the option-text stage only when asked for."""
    letter = extract_mcq_answer(response or "", ("A", "B", "C", "D")) or None
    if letter is None and reading == "lmms-eval+option-text":
        letter = option_text_match(response, options)
    return letter
