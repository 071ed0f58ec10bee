"""SEA optimize on a tiny LLaVA: loss goes down, K at once equals one at a time, early stop where the
target already decodes, resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from sea_align.media import MediaModel, load  # noqa: E402
from sea_align.optimize import OptimConfig, optimize  # noqa: E402
from sea_align.store import load_embedding, read_index  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
Q1, Q2 = "Please briefly describe the product in the image.", "What is the style of the image?"


def _item(i: str, t1: str, t2: str) -> dict:
    return {
        "id": i,
        "phrase": "p",
        "type": "product",
        "controls": [{"question": Q1, "target": t1}, {"question": Q2, "target": t2}],
    }


@pytest.fixture(scope="module")
def mm():
    torch.set_num_threads(1)
    adapter, _ = load("tiny:llava")
    return MediaModel(adapter, "image")


@pytest.mark.parametrize(
    "family,modality",
    [
        ("qwen2-vl", "video"),
        ("qwen2-audio", "audio"),
        ("llava", "image"),
        ("qwen2.5-omni", "audio"),
        ("qwen2.5-omni", "video"),
    ],
)
def test_blank_medium_batch_with_answers_injects_through_the_adapter(family, modality):
    """Blank video / silent audio / blank image with answer tokens appended: the injected blank encoder
    output gives the forward pass of the medium itself at every answer position (answer_logits keeps
    only those; Qwen2-Audio takes no logits_to_keep and is sliced), only answer tokens are labelled,
    and the gradient reaches E."""
    from va_safetybench.models.registry import make_backend

    torch.set_num_threads(1)
    args = {"shape": "mini"} if family == "qwen2-vl" else {}
    media_model = MediaModel(make_backend(f"tiny:{family}", args).adapter, modality)
    answers = [media_model.answer_ids("Yes."), media_model.answer_ids("A calm narration, slowly.")]
    batch, labels = media_model.batch([Q1, "Hi"], answers)
    assert [int((row != -100).sum()) for row in labels] == [len(a) for a in answers]
    blank = media_model.encode_blank()
    E = blank.expand(2, -1, -1).clone().requires_grad_(True)
    logits, kept = media_model.answer_logits(batch, E, labels)
    assert logits.shape[1] == kept.shape[1] == max(len(a) for a in answers)
    with torch.no_grad():  # the pixel path, every position, shifted by hand
        full, shifted = media_model.adapter.forward(batch).logits[:, :-1].float(), labels[:, 1:]
    torch.testing.assert_close(logits[kept != -100], full[shifted != -100], atol=1e-5, rtol=0)
    assert torch.equal(kept[kept != -100], shifted[shifted != -100])
    (grad,) = torch.autograd.grad(logits[kept != -100].logsumexp(-1).sum(), E)
    assert grad.abs().sum(dim=(1, 2)).min() > 0


def test_loss_drops(mm, tmp_path):
    first = optimize(mm, [_item("one", "x", "y")], tmp_path / "a", OptimConfig(k=1, max_steps=20, lr=0.05))
    blank = optimize(mm, [_item("one", "x", "y")], tmp_path / "b", OptimConfig(k=1, max_steps=0))
    a, b = read_index(tmp_path / "a")["one"], read_index(tmp_path / "b")["one"]
    assert first["written"] == blank["written"] == 1 and a["steps"] == 20 and b["steps"] == 0
    assert a["loss"] < b["loss"] - 0.1, "optimisation did not lower the control-target loss"


def test_k_embeddings_in_one_batch_move_as_if_alone(mm, tmp_path):
    items = [_item("a", "The image shows a cat.", "An oil painting."), _item("b", "No.", "A pencil sketch of it.")]
    optimize(mm, items, tmp_path / "k2", OptimConfig(k=2, max_steps=3, lr=0.05))
    optimize(mm, items, tmp_path / "k1", OptimConfig(k=1, max_steps=3, lr=0.05))
    blank = mm.encode_blank()
    for i in ("a", "b"):
        together = load_embedding(tmp_path / "k2", read_index(tmp_path / "k2")[i])
        alone = load_embedding(tmp_path / "k1", read_index(tmp_path / "k1")[i])
        assert (together - blank).abs().max() > 0.05, "the embedding did not move"
        torch.testing.assert_close(together, alone, atol=1e-4, rtol=0)


def _greedy_ids(mm, questions: list[str], embeds, n: int) -> list[list[int]]:
    """What greedy generation (the adapter's injection, the model's own generate) produces, up to end of turn."""
    inputs, _ = mm.batch(questions)
    with torch.no_grad():
        out = mm.model.generate(
            **mm.adapter.model_kwargs(inputs, embeds.reshape(-1, embeds.shape[-1])),
            max_new_tokens=n,
            do_sample=False,
            pad_token_id=mm.tokenizer.pad_token_id,
        )
    eos = mm.tokenizer.eos_token_id
    rows = [r.tolist() for r in out[:, inputs["input_ids"].shape[1] :]]
    return [r[: r.index(eos) + 1] if eos in r else r for r in rows]


def test_early_stop_where_target_already_decodes(mm, tmp_path):
    blank = mm.encode_blank()
    own = _greedy_ids(mm, [Q1, Q2], blank.expand(2, -1, -1), 4)
    assert all(own), "greedy decoding produced nothing"
    decodes = {
        "id": "decodes",
        "phrase": "p",
        "type": "product",
        "controls": [{"question": q, "target": "", "target_ids": ids} for q, ids in zip((Q1, Q2), own)],
    }
    stats = optimize(mm, [decodes, _item("other", "qq", "zz")], tmp_path, OptimConfig(k=2, max_steps=2))
    idx = read_index(tmp_path)
    assert stats == {**stats, "written": 2, "succeeded": 1}
    assert idx["decodes"]["steps"] == 0 and idx["decodes"]["success"] is True
    torch.testing.assert_close(load_embedding(tmp_path, idx["decodes"]), blank)
    assert idx["other"]["steps"] == 2 and idx["other"]["success"] is False


SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
from pathlib import Path
from sea_align.media import MediaModel, load
from sea_align.optimize import OptimConfig, optimize
items = json.loads(Path(sys.argv[1]).read_text())
adapter, _ = load("tiny:llava")
optimize(MediaModel(adapter, "image"), items, Path(sys.argv[2]), OptimConfig(k=1, max_steps=int(sys.argv[3])))
"""


STEPS = "40"  # per embedding: enough that the kill lands before the last of 4 is written


def test_kill_and_restart_resumes(tmp_path):
    items = [_item(f"i{n}", "The image shows q.", "The image shows z.") for n in range(4)]
    (tmp_path / "items.json").write_text(json.dumps(items))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "items.json"), str(out), STEPS], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(read_index(out) if out.exists() else {}) < 1:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = read_index(out)
    assert 1 <= len(before) < 4, "the kill should land between embeddings"
    mtimes = {i: (out / e["file"]).stat().st_mtime_ns for i, e in before.items()}
    subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "items.json"), str(out), STEPS], env=env, check=True)
    after = read_index(out)
    assert set(after) == {f"i{n}" for n in range(4)}
    assert all((out / before[i]["file"]).stat().st_mtime_ns == t for i, t in mtimes.items())
    lines = (out / "index.jsonl").read_text().splitlines()
    assert len(lines) == 4, "finished embeddings were redone"


def test_two_launched_processes_shard_the_items_and_a_plain_rerun_skips_them(tmp_path):
    """`torchrun` (what `accelerate launch` runs on several GPUs) starts two processes: each optimises its own
    share into index.{rank}.jsonl, no item twice; a later single-process run finds them all done."""
    rows = [
        {
            "prompt": f"How can I steal car number {n}?",
            "response_0": "I can't help with that.",
            "response_1": "First, do it.",
            "is_response_0_safe": True,
            "is_response_1_safe": False,
            "better_response_id": 0,
            "safer_response_id": 0,
        }
        for n in range(5)
    ]
    (tmp_path / "pku.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cli = ["-m", "sea_align.cli"]
    subprocess.run(
        [sys.executable, *cli, "prepare", "--data", str(tmp_path / "pku.jsonl"), "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
    )
    optimize_args = ["optimize", "--model", "tiny:llava", "--out", str(out), "--k", "2", "--max-steps", "1"]
    launched = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *cli, *optimize_args],
        env=env,
        capture_output=True,
        text=True,
    )
    assert launched.returncode == 0, launched.stderr[-2000:]
    shards = [
        [json.loads(line)["id"] for line in (out / f"index.{rank}.jsonl").read_text().splitlines()] for rank in (0, 1)
    ]
    assert sorted(len(s) for s in shards) == [2, 3]
    assert sorted(shards[0] + shards[1]) == sorted(read_index(out)) and len(read_index(out)) == 5
    assert not (out / "index.jsonl").exists()
    rerun = subprocess.run([sys.executable, *cli, *optimize_args], env=env, capture_output=True, text=True, check=True)
    summary = json.loads(rerun.stdout.splitlines()[-1])["optimize"]
    assert summary["written"] == 0 and summary["skipped"] == 5


def test_stages_that_do_not_split_their_work_refuse_to_run_under_a_launcher(tmp_path, monkeypatch, capsys):
    from sea_align.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["run", "--model", "tiny:llava", "--data", "pku", "--out", str(tmp_path)]) == 2
    assert "under a launcher only optimize and train run" in capsys.readouterr().err
    assert not any(tmp_path.iterdir()), "nothing written"
