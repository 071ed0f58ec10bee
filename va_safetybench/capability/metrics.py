"""Benchmark scores as their authors define them, over per-document results lm-eval collects.

lm-eval calls a task's aggregation with the list of per-document values `process_results`
returned; these functions take such lists (tuples carrying what each score needs) and return one number.
"""

from __future__ import annotations

from collections import defaultdict

# MME (Fu et al. 2023): 10 perception and 4 cognition subtasks, each scored (acc + acc+) x 100
MME_PERCEPTION = (
    "existence",
    "count",
    "position",
    "color",
    "posters",
    "celebrity",
    "scene",
    "landmark",
    "artwork",
    "OCR",
)
MME_COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")


def mme_subtask_scores(results: list[tuple[str, str, bool]]) -> dict[str, float]:
    """(category, image id, correct) per question -> {category: (acc + acc+) x 100}.

    acc: share of questions answered correctly; acc+: share of images whose questions (MME asks
    two per image, one yes and one no) are all answered correctly.
    """
    per_image: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for category, image, correct in results:
        per_image[(category, image)].append(bool(correct))
    per_category: dict[str, list[list[bool]]] = defaultdict(list)
    for (category, _), answers in per_image.items():
        per_category[category].append(answers)
    scores = {}
    for category, images in per_category.items():
        questions = [a for answers in images for a in answers]
        acc = sum(questions) / len(questions)
        acc_plus = sum(all(answers) for answers in images) / len(images)
        scores[category] = (acc + acc_plus) * 100
    return scores


def mme_perception(results: list[tuple[str, str, bool]]) -> float:
    """Sum of the perception subtask scores present (max 2000 on the full set)."""
    scores = mme_subtask_scores(results)
    return sum(v for k, v in scores.items() if k in MME_PERCEPTION)


def mme_cognition(results: list[tuple[str, str, bool]]) -> float:
    """Sum of the cognition subtask scores present (max 800 on the full set)."""
    scores = mme_subtask_scores(results)
    return sum(v for k, v in scores.items() if k in MME_COGNITION)


def circular_accuracy(results: list[tuple[str, bool]]) -> float:
    """(question key, correct) per rotation -> share of questions right in every rotation (MMBench CircularEval)."""
    per_question: dict[str, bool] = {}
    for key, correct in results:
        per_question[key] = per_question.get(key, True) and bool(correct)
    return sum(per_question.values()) / len(per_question) if per_question else float("nan")


def mean_present(values: list[float | None]) -> float:
    """Mean over documents the metric applies to (None elsewhere), e.g. Clotho-AQA yes/no questions only."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else float("nan")
