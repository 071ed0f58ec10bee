"""MME (Fu et al. 2023): 14 yes/no subtasks, two questions per image (one answered yes, one no).

Source: hub `lmms-lab/MME` split `test` (2,374 questions), or a local copy in its format
(question_id = the image's file name, shared by its two questions; image; question; answer
Yes/No; category). The prompt is MME's own question, which already ends "Please answer yes or no.".
Answers are read as MME's calculation.py reads them (extract.parse_yes_no); scores per subtask are
(acc + acc+) x 100, summed over perception (max 2000) and cognition (max 800).
"""

from __future__ import annotations

from typing import Any

from ..harness.media_inputs import EncodedImage, with_placeholders
from ..harness.model_checks import refuse_unfit_model
from . import metrics
from .extract import parse_yes_no
from .sources import hub_rows, image_bytes, local_copy, read_rows

HUB_ID = "lmms-lab/MME"


def load_rows(metadata: dict[str, Any]) -> list[dict]:
    path = local_copy("mme", metadata)
    rows = read_rows(path) if path else hub_rows("mme", HUB_ID, "test", raw_images=True)
    base = path if path and path.is_dir() else (path.parent if path else None)
    # `key` groups an image's two questions (capability.run keeps them together under --limit)
    return [
        {
            "key": f"{r['category']}/{r['question_id']}",
            "question_id": str(r["question_id"]),
            "category": str(r["category"]),
            "question": str(r["question"]),
            "answer": str(r["answer"]).strip().lower(),
            "image": image_bytes(r["image"], base),
        }
        for r in rows
    ]


def load_dataset(**metadata: Any):
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(load_rows(metadata))})


def prompt(doc: dict) -> str:
    return doc["question"]


def doc_to_text(doc: dict) -> str:
    """MME's question after lm-eval's image placeholder (lm-eval's image model classes put the image there)."""
    return with_placeholders(prompt(doc), ["image"])


def doc_to_image(doc: dict) -> list:
    """The image as an RGB PIL image decoded on first use (media_inputs.EncodedImage)."""
    refuse_unfit_model("mme", "image")
    return [EncodedImage(doc["image"])]


def process_results(doc: dict, results: list[str]) -> dict:
    correct = parse_yes_no(results[0]) == doc["answer"]
    entry = (doc["category"], doc["question_id"], correct)
    return {"mme_perception_score": entry, "mme_cognition_score": entry, "acc": float(correct)}


perception = metrics.mme_perception
cognition = metrics.mme_cognition
