"""`sea-align` for a first try and for its baseline: `--preset quick` fills only the options left unset (the paper's
settings stay the default), `run` prints a measured time estimate before the model work starts and progress per
stage, and `--text-only` trains the same DPO/SFT on the prepared items' own text with no medium into a checkpoint
of its own that `hf:` loads, its recipe saying what it is."""

from __future__ import annotations

import json
import logging
import re

import pytest

from sea_align.cli import main, parser, read_command
from sea_align.presets import PRESETS

torch = pytest.importorskip("torch")

PKU_ROWS = [
    {
        "prompt": f"How do I {activity}?",
        "response_0": "I can't help with that.",
        "response_1": "Sure, here is how.",
        "is_response_0_safe": True,
        "is_response_1_safe": False,
    }
    for activity in ("pick a lock to break into a house", "make a fake passport", "steal a car")
]


def _data(tmp_path):
    path = tmp_path / "pku.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PKU_ROWS))
    return path


def _options(*argv: str) -> dict:
    cmd = read_command(parser().parse_args(["run", "--model", "tiny:llava", "--data", "d", "--out", "o", *argv]))
    return {**vars(cmd.prepare), **vars(cmd.optimize), **vars(cmd.train)}


def test_presets_fill_only_unset_options_and_the_paper_settings_are_the_default():
    paper = _options()
    assert (paper["k"], paper["max_steps"], paper["max_response_tokens"], paper["limit"]) == (16, 300, 256, None)
    quick = _options("--preset", "quick")
    assert {k: quick[k] for k in PRESETS["quick"]} == PRESETS["quick"]
    assert _options("--preset", "quick", "--k", "8", "--limit", "2")["k"] == 8
    assert _options("--preset", "quick", "--limit", "2")["limit"] == 2


def test_run_estimates_before_the_model_work_and_reports_each_stage(tmp_path, caplog):
    torch.set_num_threads(1)
    out = tmp_path / "work"
    args = ["run", "--model", "tiny:llava", "--data", str(_data(tmp_path)), "--out", str(out), "--preset", "quick"]
    with caplog.at_level(logging.INFO, logger="sea_align"):
        assert main(args + ["--max-steps", "2", "--max-response-tokens", "8"]) == 0
    lines = [r.getMessage() for r in caplog.records]
    estimate = next(i for i, line in enumerate(lines) if line.startswith("estimate on cpu: about "))
    stages = [i for i, line in enumerate(lines) if line.startswith("sea-align: stage ")]
    assert [lines[i] for i in stages] == [
        f"sea-align: stage {n}/5, {s}" for n, s in enumerate(("prepare", "optimize", "verify", "dataset", "train"), 1)
    ]
    assert stages[0] < estimate < stages[1], "the estimate comes after prepare and before optimize"
    assert re.search(
        r"of model work \(optimize up to \d+ s \(\d+\.\d\d s per step\), verify ~\d+ s, train ~\d+ s\)", lines[estimate]
    )
    assert "(3 items, preset quick)" in lines[estimate]
    assert sum(line.startswith("sea-align: ") and " done in " in line for line in lines) == 5
    assert any(re.fullmatch(r"train: step 1/2, loss \d\.\d{4}", line) for line in lines)  # 3 records, batch 2
    recipe = json.loads((out / "checkpoint" / "va_safetybench.json").read_text())
    assert recipe["alignment"]["preset"] == "quick" and recipe["random_weights"] is True


def test_text_only_baseline_trains_the_same_text_without_a_medium(tmp_path):
    from sea_align.dataset import text_only_records
    from sea_align.media import MediaModel, load
    from sea_align.prepare import read_prepared
    from sea_align.train import SeaCollator

    torch.set_num_threads(1)
    out = tmp_path / "work"
    args = ["run", "--text-only", "--model", "tiny:llava", "--data", str(_data(tmp_path)), "--out", str(out)]
    assert main(args + ["--preset", "quick", "--method", "sft", "--max-response-tokens", "8"]) == 0
    assert not (out / "index.jsonl").exists() and not (out / "checkpoint").exists()  # no SEA stage ran
    recipe = json.loads((out / "checkpoint-text-only" / "va_safetybench.json").read_text())["alignment"]
    assert recipe["method"] == "Text-only-SFT" and recipe["n"] == 3 and recipe["modality"] is None

    prepared = read_prepared(out / "prepared.jsonl")
    records = text_only_records(prepared, "sft")
    assert [r["prompt"] for r in records] == [r["prompt"] for r in PKU_ROWS]  # the instructions themselves
    assert [r["response"] for r in records] == ["I can't help with that."] * 3
    mm = MediaModel(load("tiny:llava")[0], "image")
    batch = SeaCollator(mm, "sft", 8, text_only=True)(records)
    image_token = mm.adapter.placeholder_ids()["image"]
    assert batch["sea_embeds"] is None and not bool((batch["sea_inputs"]["input_ids"] == image_token).any())

    from va_safetybench.models.base import GenerationRequest, GenerationSettings
    from va_safetybench.models.registry import make_backend

    backend = make_backend(f"hf:{out / 'checkpoint-text-only'}")
    assert backend.info.metadata["alignment"]["method"] == "Text-only-SFT" and backend.info.random_weights
    assert isinstance(backend.generate([GenerationRequest("hello")], GenerationSettings(max_new_tokens=2))[0], str)


def test_train_refuses_a_method_its_dataset_does_not_hold(tmp_path, capsys):
    out = tmp_path / "work"
    out.mkdir()
    record = {"id": "a", "embedding": "e.safetensors", "prompt": "p", "chosen": "c", "rejected": "r"}
    (out / "dataset.jsonl").write_text(json.dumps(record) + "\n")
    assert main(["train", "--model", "tiny:llava", "--out", str(out), "--method", "sft"]) == 2
    assert "--method sft" in capsys.readouterr().err
