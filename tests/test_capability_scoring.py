"""Benchmark scores on hand-checked cases (answer readings: tests/test_peer_*.py)."""

from __future__ import annotations

import pytest

from va_safetybench.capability import metrics
from va_safetybench.capability.mmbench import rotations


def test_mme_acc_plus_over_paired_questions():
    results = [
        ("existence", "img1", True),
        ("existence", "img1", True),  # both right: counts for acc+
        ("existence", "img2", True),
        ("existence", "img2", False),  # one wrong: not in acc+
        ("code_reasoning", "c1", False),
        ("code_reasoning", "c1", True),
    ]
    scores = metrics.mme_subtask_scores(results)
    assert scores["existence"] == pytest.approx((3 / 4 + 1 / 2) * 100)  # 125
    assert scores["code_reasoning"] == pytest.approx((1 / 2 + 0) * 100)
    assert metrics.mme_perception(results) == pytest.approx(125)
    assert metrics.mme_cognition(results) == pytest.approx(50)


def test_circular_eval_one_wrong_rotation_makes_the_question_wrong():
    variants = rotations(["red", "green", "blue", "black"], "A")
    assert [ans for _, ans in variants] == ["A", "D", "C", "B"]
    assert all(opts["ABCD".index(ans)] == "red" for opts, ans in variants)
    all_right = [("q1", True)] * 4
    one_wrong = [("q2", True), ("q2", False), ("q2", True), ("q2", True)]
    assert metrics.circular_accuracy(all_right + one_wrong) == 0.5
    assert metrics.circular_accuracy(one_wrong) == 0.0


def test_mean_present_skips_documents_the_metric_does_not_cover():
    assert metrics.mean_present([1.0, None, 0.0, None, 1.0]) == pytest.approx(2 / 3)


def test_demo_mme_set_is_mme_format_with_answers_its_images_show(tmp_path):
    """The demo's built-in MME set: the real loader reads it, its pixels hold the colours its shapes name, and
    answering every question right scores MME's maximum for its four perception categories."""
    from PIL import Image

    from va_safetybench.capability import demo_set, mme

    path = demo_set.write_demo_mme(tmp_path / "mme")
    docs = mme.load_rows({"mme_path": str(path)})
    assert len(docs) == 16 and [d["answer"] for d in docs] == ["yes", "no"] * 8
    assert all(d["question"].endswith("Please answer yes or no.") for d in docs)
    for (_, _, shapes, _, _), doc in zip(demo_set.IMAGES, docs[::2]):
        image = mme.doc_to_image(doc)[0]
        assert isinstance(image, Image.Image) and image.size == (demo_set.SIZE, demo_set.SIZE)
        drawn = {c for _, c in image.getcolors(maxcolors=64)} - {(255, 255, 255)}
        assert drawn == {demo_set.COLOURS[colour] for _, colour, _ in shapes}
    right = [mme.process_results(d, ["Yes" if d["answer"] == "yes" else "No"])["mme_perception_score"] for d in docs]
    assert mme.perception(right) == 4 * 200 and mme.cognition(right) == 0
    one_wrong = [mme.process_results(d, ["No"])["mme_perception_score"] for d in docs[:2]] + right[2:]
    assert mme.perception(one_wrong) == 800 - 75  # existence: acc 3/4, acc+ 1/2 -> 125
