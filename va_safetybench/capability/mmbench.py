"""MMBench dev, English (Liu et al. 2023), scored with its CircularEval.

Source: hub `lmms-lab/MMBench` config `en` split `dev`, or a local copy in its format (parquet, or
the OpenCompass TSV with base64 images): index, question, hint, A-D, answer (letter), category, image.
CircularEval: a question with N options is asked N times, options rotated one place each time; it
counts as correct only when every rotation is answered correctly. The hub split already holds the
rotated copies (index + k x 1,000,000, as OpenCompass ships them); a copy without them is rotated
here, so both give the same documents. Prompt and reading are lmms-eval's `mmbench_en_dev` (tasks/mmbench/
en_utils.py, commit 7a69a9a1): "HINT QUESTION There are several options:" then "A. ..." lines, a blank line
and "Answer with the option's letter from the given choices directly."; each rotation's answer is read by
lmms-eval's prefetch, else its static extractor (mcq.mmbench_letter): the score is lmms-eval's
`mmbench_en_dev_static`, and lmms-eval's GPT-matched `mmbench_en_dev` wherever its prefetch or static
extractor already reads the answer.
"""

from __future__ import annotations

import json
from typing import Any

from ..harness.media_inputs import EncodedImage, with_placeholders
from ..harness.model_checks import refuse_unfit_model
from .mcq import can_infer, can_infer_text, mmbench_letter
from .metrics import circular_accuracy
from .sources import hub_rows, image_bytes, local_copy, read_rows

HUB_ID = "lmms-lab/MMBench"
LETTERS = "ABCDEFGHI"
COPY_OFFSET = 1_000_000
INSTRUCTION = "Answer with the option's letter from the given choices directly."
OPTIONS_HEADER = "There are several options:"  # lmms-eval's mmbench.yaml sys_prompt


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() not in ("", "nan", "None")


def options_of(row: dict) -> list[str]:
    """Option texts in letter order, up to the first missing one."""
    out = []
    for letter in LETTERS:
        if not _present(row.get(letter)):
            break
        out.append(str(row[letter]))
    return out


def rotations(options: list[str], answer: str) -> list[tuple[list[str], str]]:
    """Every circular shift of the options with the answer letter that follows it (shift 0 first)."""
    n = len(options)
    right = LETTERS.index(answer)
    return [([options[(i + k) % n] for i in range(n)], LETTERS[(right - k) % n]) for k in range(n)]


def build_docs(rows: list[dict], base=None) -> list[dict[str, Any]]:
    has_copies = any(int(float(r["index"])) >= COPY_OFFSET for r in rows)
    docs = []
    for r in rows:
        index = int(float(r["index"]))
        options, answer = options_of(r), str(r["answer"]).strip()
        variants = [(options, answer)] if has_copies else rotations(options, answer)
        image = image_bytes(r["image"], base)
        for k, (opts, ans) in enumerate(variants):
            docs.append(
                {
                    "key": str(index % COPY_OFFSET),
                    "rotation": index // COPY_OFFSET if has_copies else k,
                    "question": str(r["question"]),
                    "hint": str(r["hint"]) if _present(r.get("hint")) else "",
                    "options": json.dumps(dict(zip(LETTERS, opts))),
                    "answer": ans,
                    "category": str(r.get("category", "")),
                    "image": image,
                }
            )
    docs.sort(key=lambda d: (int(str(d["key"])) if str(d["key"]).isdigit() else 0, str(d["key"]), d["rotation"]))
    return docs


def load_dataset(**metadata: Any):
    import datasets

    path = local_copy("mmbench", metadata)
    rows = read_rows(path) if path else hub_rows("mmbench", HUB_ID, "dev", "en", raw_images=True)
    base = path if path and path.is_dir() else (path.parent if path else None)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(build_docs(rows, base))})


def prompt(doc: dict) -> str:
    """lmms-eval's prompt, character for character (hint and question joined by a space, not a newline)."""
    options = json.loads(doc["options"])
    listed = "\n".join([OPTIONS_HEADER, *(f"{k}. {v}" for k, v in options.items())])
    head = f"{doc['hint']} {doc['question']}" if doc["hint"] else doc["question"]
    return f"{head} {listed}\n\n{INSTRUCTION}"


def doc_to_text(doc: dict) -> str:
    """The prompt after lm-eval's image placeholder (lm-eval's image model classes put the image there)."""
    return with_placeholders(prompt(doc), ["image"])


def doc_to_image(doc: dict) -> list:
    """The image as an RGB PIL image decoded on first use (media_inputs.EncodedImage)."""
    refuse_unfit_model("mmbench_en_dev", "image")
    return [EncodedImage(doc["image"])]


def process_results(doc: dict, results: list[str]) -> dict:
    correct = mmbench_letter(results[0], json.loads(doc["options"])) == doc["answer"]
    return {"circular_acc": (doc["key"], correct), "per_rotation_acc": float(correct)}


circular = circular_accuracy


def gpt_circular(judge, rows: list[tuple[dict, str]]) -> dict:
    """lmms-eval's default (GPT-matched) CircularEval over (document, response) pairs, with `judge` a
    judges.choice_gpt.MMBenchChoiceJudge: a rotation is read by the prefetch, else by the matcher; a question
    whose prefetch already reads one rotation wrong is wrong without asking (as upstream's eval_sub_data).

    {"circular_acc_gpt", "gpt_asked": rotations sent, "gpt_unmatched": answers naming no option, "gpt_errors":
    failed requests and empty responses}; both leave their rotation unread (wrong).
    """
    from judges.base import JudgeInput
    from judges.choice_gpt import option_block

    by_key: dict[str, list[tuple[dict, str, str | None]]] = {}
    for doc, response in rows:
        options = json.loads(doc["options"])
        by_key.setdefault(doc["key"], []).append((doc, response, can_infer(response.strip(), options) or None))
    ask = [
        (doc, response)
        for group in by_key.values()
        if all(pre is None or pre == doc["answer"] for doc, _, pre in group)
        for doc, response, pre in group
        if pre is None
    ]
    inputs = [
        JudgeInput(
            task="mmbench_en_dev",
            scenario=doc["category"],
            prompt=option_block(json.loads(doc["options"])),
            response=response.strip(),
            question=doc["question"],
        )
        for doc, response in ask
    ]
    matched: dict[tuple[str, int], str | None] = {}
    unmatched = errors = 0
    for (doc, _), verdict in zip(ask, judge.judge(inputs)):
        letter = None
        if verdict.label == "choice":  # the matcher answered: its letter, else an option text it named
            letter = (
                verdict.categories[0] if verdict.categories else can_infer_text(verdict.raw, json.loads(doc["options"]))
            )
            unmatched += letter is None
        else:
            errors += 1
        matched[(doc["key"], doc["rotation"])] = letter
    results = [
        (key, all((pre or matched.get((doc["key"], doc["rotation"]))) == doc["answer"] for doc, _, pre in group))
        for key, group in by_key.items()
    ]
    return {
        "circular_acc_gpt": circular_accuracy(results),
        "gpt_asked": len(ask),
        "gpt_unmatched": unmatched,
        "gpt_errors": errors,
    }
