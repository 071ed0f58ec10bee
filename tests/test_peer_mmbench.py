"""MMBench and Video-MME answers read as lmms-eval reads them.

Peer: EvolvingLMMs-Lab/lmms-eval at commit 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (HEAD read on this task):
- lmms_eval/tasks/mmbench/mmbench_evals.py (last changed in 7a69a9a1): `can_infer_option`, `can_infer_text`,
  `eval_sub_data` (prefetch every rotation, then `extract_mcq_answer` in the static variant);
- lmms_eval/tasks/_task_utils/mcq_extract.py (7a69a9a1): `extract_mcq_answer`;
- lmms_eval/tasks/videomme/utils.py (9ca4445d): `extract_characters_regex` = extract_mcq_answer over A-D.
Each expected letter below was worked out by hand from those rules (the comment says which rule decides) and
checked once against the peer's own functions run on the same strings.
"""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import pytest

from va_safetybench.capability import mmbench
from va_safetybench.capability.mcq import extract_mcq_answer, mmbench_letter, videomme_letter

from .capability_data import png_bytes
from .fake_openai import FakeOpenAI, chat_completion

OPTIONS = {"A": "cat", "B": "dog", "C": "bird", "D": "fish"}

# (answer, letter lmms-eval's MMBench reading gives, the rule that decides)
MMBENCH = [
    ("B", "B", "a bare letter word"),
    ("B.", "B", "letter + '.'"),
    ("(B)", "B", "'(' letter ')'"),
    ("B because it barks", "B", "one bare letter word, no 'A' word"),
    ("B\nIt barks.", "B", "one bare letter word"),
    ("B - a dog", "B", "one bare letter word"),
    ("I choose B", "B", "'I' is no option letter: one bare letter word"),
    ("Option A is wrong; the answer is B.", "B", "'A' in >3 words is an article; then 'B.' is the one letter+'.'"),
    ("The answer is B", "B", "one bare letter word"),
    ("The answer is (C).", "C", "'(' letter ').'"),
    ("Answer: B", "B", "one bare letter word"),
    ("C. bird", "C", "letter + '.'"),
    ("A: cat", "A", "letter + ':'"),
    ("I think the answer is B, because dogs bark.", "B", "letter + ','"),
    ("**B**", "B", "no prefetch form; static fallback: the only letter anywhere"),
    ("**Answer: B**", "B", "static fallback: 'A' (of Answer) and 'B' anywhere, the later one wins"),
    ("**(B)** dog", "B", "no letter form; the one option text in the answer"),
    ("It is a dog.", "B", "no letter form; the one option text in the answer"),
    ("A cute dog sitting on the grass", "B", "'A' in >3 words is an article; option text 'dog'"),
    ("A dog.", "A", "'A' alone in <=3 words counts as the letter"),
    ("B\n\nExplanation: A dog barks, and so on.", "B", "two bare letters: no letter form; option text 'dog'"),
    ("A or B", "A", "two bare letters; static: starts with 'A' beats ends with 'B'"),
    ("E", "E", "E is a letter the prefetch reads (then simply wrong)"),
    ("", None, "empty: nothing"),
    ("I cannot answer that.", None, "a refusal: no letter, no option text, no capital A-D"),
    ("it's a cat or a dog", None, "two option texts and no capital letter: nothing"),
]

# (answer, letter lmms-eval's Video-MME reading gives, the rule that decides)
VIDEOMME = [
    ("B", "B", "starts with the letter"),
    ("B because it barks", "B", "starts with the letter"),
    ("B\nIt barks.", "B", "starts with the letter"),
    ("I choose B", "B", "ends with the letter (beats the phrase)"),
    ("Option A is wrong; the answer is B.", "B", "ends with the letter (trailing '.' stripped first)"),
    ("The best answer is: C", "C", "ends with the letter"),
    ("The answer is B, not C.", "C", "ends with 'C': the end outranks the phrase"),
    ("(A) cat", "A", "'(A)' is the highest form present"),
    ("D. 4.", "D", "starts with the letter"),
    ("A or B", "A", "start outranks end"),
    ("**B**", "B", "fallback: the only letter anywhere"),
    ("It is London", None, "no A-D anywhere: nothing"),
    ("", None, "empty: nothing"),
]


@pytest.mark.parametrize("answer, letter, why", MMBENCH)
def test_mmbench_reading_equals_lmms_eval(answer, letter, why):
    assert mmbench_letter(answer, dict(OPTIONS)) == letter, why


@pytest.mark.parametrize("answer, letter, why", VIDEOMME)
def test_videomme_reading_equals_lmms_eval(answer, letter, why):
    assert videomme_letter(answer, {"A": "London", "B": "Paris", "C": "Rome", "D": "Oslo"}) == letter, why


def test_videomme_option_text_is_an_opt_in_extra_stage():
    options = {"A": "London", "B": "Paris", "C": "Rome", "D": "Oslo"}
    assert videomme_letter("It is london", options) is None
    assert videomme_letter("It is london", options, "lmms-eval+option-text") == "A"
    assert videomme_letter("B", options, "lmms-eval+option-text") == "B"  # a letter still wins


def test_an_unknown_videomme_reading_is_a_clear_input_error(tmp_path):
    from va_safetybench.capability import videomme
    from va_safetybench.errors import InputError

    from .capability_data import write_videomme

    write_videomme(tmp_path / "vm")
    with pytest.raises(InputError, match="videomme: unknown answer reading 'gpt'; valid: lmms-eval, lmms-eval"):
        videomme.load_dataset(videomme_path=str(tmp_path / "vm"), videomme_reading="gpt")
    docs = videomme.load_dataset(videomme_path=str(tmp_path / "vm"), videomme_reading="lmms-eval+option-text")["test"]
    assert docs[0]["reading"] == "lmms-eval+option-text"
    assert videomme.process_results(docs[0], ["It is 3."])["acc"] == 1.0  # option "3." named by its text


def test_extract_mcq_answer_choice_list_limits_the_letters():
    assert extract_mcq_answer("E", ["A", "B", "C", "D"]) == ""
    assert extract_mcq_answer("E") == "E"  # default A-H
    assert extract_mcq_answer("答案是C", ["A", "B", "C", "D"]) == "C"


# --- CircularEval through the real eval path ------------------------------------------------------------------

QUESTIONS = [  # (question, hint, options, right answer letter)
    ("Which animal is shown?", "A photo from a farm.", ["cow", "dog", "bird", "fish"], "B"),
    ("What colour is the square?", None, ["red", "green", "blue", "black"], "C"),
    ("Which shape is drawn?", None, ["circle", "square", "triangle"], "A"),
    ("How many dots are there?", None, ["one", "two", "three", "four"], "D"),
    ("Which fruit is this?", "Look closely.", ["apple", "pear", "plum", "kiwi"], "A"),
]

# phrasings a model really uses, each with the reading lmms-eval's rule gives it (see MMBENCH above); wrong
# answers pick the next letter round. `reads` = the letter lmms-eval reads when the model means `letter`
PHRASINGS = [
    ("{letter}", "letter"),
    ("{letter} because it is the {text}.", "letter"),  # one bare letter word
    ("{letter}\nIt is the {text}.", "letter"),
    ("I choose {letter}", "letter"),
    ("The answer is ({letter}).", "letter"),
    ("**{letter}**", "letter"),  # static fallback
    ("I cannot tell from this image.", "none"),  # a refusal: unreadable
]


def tsv_rows() -> list[dict]:
    """MMBench's OpenCompass TSV rows: every rotation as its own row (index + k x 1,000,000), base64 images."""
    image = base64.b64encode(png_bytes((200, 40, 40), size=64)).decode()
    rows = []
    for i, (question, hint, options, answer) in enumerate(QUESTIONS):
        for k in range(len(options)):
            rotated = options[k:] + options[:k]
            rows.append(
                {
                    "index": i + k * 1_000_000,
                    "question": question,
                    "hint": hint or "nan",
                    **{letter: (rotated[j] if j < len(rotated) else "") for j, letter in enumerate("ABCD")},
                    "answer": "ABCD"[("ABCD".index(answer) - k) % len(options)],
                    "category": "test_category",
                    "l2-category": "perception",
                    "split": "dev",
                    "image": image,
                }
            )
    return rows


def write_tsv(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return path


def scripted_model(rows: list[dict]):
    """A fake OpenAI model: reads the options out of the prompt it receives and answers each (question, rotation)
    in a phrasing picked from PHRASINGS, right or wrong by a fixed pattern; records what lmms-eval will read."""
    truth = {r["question"]: dict(zip("ABCD", [r[c] for c in "ABCD"]))[r["answer"]] for r in rows if r["index"] < 1e6}
    plan: dict[tuple[str, str], bool] = {}  # (question, letter lmms-eval reads as the right one) -> correct

    def reply(body: dict) -> tuple[int, dict]:
        content = body["messages"][-1]["content"]
        prompt = next(p["text"] for p in content if p["type"] == "text") if isinstance(content, list) else content
        question = next(q for q, *_ in QUESTIONS if q in prompt)
        options = dict(re.findall(r"^([A-D])\. (.+)$", prompt, flags=re.M))
        right = next(k for k, v in options.items() if v == truth[question])
        seq = len(plan)
        phrasing, kind = PHRASINGS[seq % len(PHRASINGS)]
        wrong = seq % 11 == 5  # a few plainly wrong answers
        letters = sorted(options)
        meant = letters[(letters.index(right) + 1) % len(letters)] if wrong else right
        text = phrasing.format(letter=meant, text=options[meant])
        plan[(question, prompt)] = kind == "letter" and meant == right
        return 200, chat_completion(text)

    return reply, plan


def test_circular_eval_through_the_openai_backend_equals_lmms_eval(tmp_path, monkeypatch):
    from va_safetybench.cli import main

    rows = tsv_rows()
    write_tsv(tmp_path / "data" / "mmbench" / "MMBench_DEV_EN.tsv", rows)
    docs = mmbench.build_docs(mmbench.read_rows(tmp_path / "data" / "mmbench"))
    assert len(docs) == len(rows) == 19 and {d["key"] for d in docs} == {"0", "1", "2", "3", "4"}
    monkeypatch.setenv("VA_CAPABILITY_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("VA_TEST_KEY", "sk-test")
    reply, plan = scripted_model(rows)
    run = tmp_path / "run"
    with FakeOpenAI(reply) as server:
        code = main(
            [
                "eval",
                "--model",
                "openai:fake",
                "--model-args",
                f"base_url={server.base_url},api_key_env=VA_TEST_KEY,retry_base=0.01",
                "--tasks",
                "mmbench_en_dev",
                "--out",
                str(run),
            ]
        )
        prompts = [
            next(p["text"] for p in r["messages"][-1]["content"] if p["type"] == "text") for r in server.requests
        ]
    assert code == 0 and len(prompts) == 19
    # the prompt is lmms-eval's: "HINT QUESTION There are several options:\nA. ..\n\nAnswer with ... directly."
    first = next(p for p in prompts if p.startswith("A photo from a farm. Which animal is shown? There are several"))
    assert first.endswith("\n\nAnswer with the option's letter from the given choices directly.")
    assert "\nA. " in first and "\nD. " in first
    # lmms-eval's CircularEval over the same answers: a question counts when every rotation reads right
    per_question: dict[str, bool] = {}
    for (question, _), ok in plan.items():
        per_question[question] = per_question.get(question, True) and ok
    expected = sum(per_question.values()) / len(per_question)
    summary = json.loads((run / "summary.json").read_text())
    result = summary["capability"]["mmbench_en_dev"]
    assert result["circular_acc"] == pytest.approx(expected)
    assert result["per_rotation_acc"] == pytest.approx(sum(plan.values()) / len(plan))
    assert 0 < expected < 1 and 0 < result["per_rotation_acc"] < 1  # the script mixes right, wrong and unreadable
    assert summary["scorers"]["mmbench_en_dev"] == {
        "version": "mmbench-2",
        "rule": "lmms-eval mmbench_en_dev prompt; prefetch then extract_mcq_answer; CircularEval",
        "reading": "lmms-eval",
    }
