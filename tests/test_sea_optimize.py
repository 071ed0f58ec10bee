"""SEA optimize on a tiny LLaVA: loss goes down, early stop where the target already decodes, resume."""

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
from sea_align.store import read_index  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
Q1, Q2 = "Please briefly describe the product in the image.", "What is the style of the image?"


def _item(i: str, t1: str, t2: str) -> dict:
    return {"id": i, "phrase": "p", "type": "product",
            "controls": [{"question": Q1, "target": t1}, {"question": Q2, "target": t2}]}


@pytest.fixture(scope="module")
def mm():
    torch.set_num_threads(1)
    model, processor, _ = load("tiny:llava")
    return MediaModel(model, processor, "image")


def test_loss_drops(mm, tmp_path):
    first = optimize(mm, [_item("one", "x", "y")], tmp_path / "a", OptimConfig(k=1, max_steps=20, lr=0.05))
    blank = optimize(mm, [_item("one", "x", "y")], tmp_path / "b", OptimConfig(k=1, max_steps=0))
    a, b = read_index(tmp_path / "a")["one"], read_index(tmp_path / "b")["one"]
    assert first["written"] == blank["written"] == 1 and a["steps"] == 20 and b["steps"] == 0
    assert a["loss"] < b["loss"] - 0.1, "optimisation did not lower the control-target loss"


def test_early_stop_where_target_already_decodes(tmp_path):
    model, processor, _ = load("tiny:qwen2-vl")
    vl = MediaModel(model, processor, "image")
    # Targets with an exact text form: questions whose first greedy byte is ASCII, that byte the target.
    candidates = ["hi", "yo", "hey", "ok", "go", "so", "a", "b", "c", "d"]
    firsts = [out[:1] for out in vl.generate(candidates, vl.encode_blank().expand(len(candidates), -1, -1), 1)]
    pairs = [(q, t) for q, t in zip(candidates, firsts) if t and ord(t) < 128][:2]
    if len(pairs) < 2:
        pytest.skip("the tiny model's first greedy byte is not ASCII for these questions")
    questions, own = [q for q, _ in pairs], [t for _, t in pairs]
    decodes = {"id": "decodes", "phrase": "p", "type": "product",
               "controls": [{"question": q, "target": t} for q, t in zip(questions, own)]}
    stats = optimize(vl, [decodes, _item("other", "qq", "zz")], tmp_path, OptimConfig(k=2, max_steps=2))
    idx = read_index(tmp_path)
    assert stats["written"] == 2
    assert idx["decodes"]["steps"] == 0 and idx["decodes"]["success"] is True
    assert idx["other"]["steps"] == 2 and idx["other"]["success"] is False


SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
from pathlib import Path
from sea_align.media import MediaModel, load
from sea_align.optimize import OptimConfig, optimize
items = json.loads(Path(sys.argv[1]).read_text())
model, processor, _ = load("tiny:llava")
optimize(MediaModel(model, processor, "image"), items, Path(sys.argv[2]), OptimConfig(k=1, max_steps=int(sys.argv[3])))
"""


def test_kill_and_restart_resumes(tmp_path):
    items = [_item(f"i{n}", "The image shows q.", "The image shows z.") for n in range(4)]
    (tmp_path / "items.json").write_text(json.dumps(items))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "items.json"), str(out), "3"], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(read_index(out) if out.exists() else {}) < 1:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = read_index(out)
    assert 1 <= len(before) < 4, "the kill should land between embeddings"
    mtimes = {i: (out / e["file"]).stat().st_mtime_ns for i, e in before.items()}
    subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "items.json"), str(out), "3"], env=env, check=True)
    after = read_index(out)
    assert set(after) == {f"i{n}" for n in range(4)}
    assert all((out / before[i]["file"]).stat().st_mtime_ns == t for i, t in mtimes.items())
    lines = (out / "index.jsonl").read_text().splitlines()
    assert len(lines) == 4, "finished embeddings were redone"
