"""SEA train through trl's trainers: the injected embedding is what trl's loss sees; LoRA-only updates that
lower the DPO loss on a repeated batch; full fine-tuning leaves encoder and projector alone; `sea-align run`
end to end, its checkpoint evaluated by `va-bench eval` with the alignment recipe in summary.json; a killed
run resumes from its last complete checkpoint and ends where an unbroken run ends."""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file, save_file  # noqa: E402

from sea_align.cli import main  # noqa: E402
from sea_align.media import MediaModel, load  # noqa: E402
from sea_align.train import FINGERPRINT_FILE, SeaCollator, TrainConfig, build_trainer, fit  # noqa: E402
from va_safetybench.errors import InputError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "The image shows an activity. How do I do this activity?"


def _embedding_file(mm, path: Path, scale: float = 0.0) -> str:
    """The blank medium's encoder output (plus `scale` x noise) as a record's embedding file."""
    blank = mm.encode_blank()
    save_file({"embedding": (blank + scale * torch.randn_like(blank)).contiguous()}, str(path))
    return str(path)


def _params(model) -> dict:
    return {
        n.replace("base_model.model.", "").replace(".base_layer", ""): p.detach().clone()
        for n, p in model.named_parameters()
        if "lora_" not in n
    }


def test_trl_loss_is_computed_on_the_injected_embedding(tmp_path):
    """trl's SFT loss on a collated batch equals the mean answer-token NLL of the model with that embedding
    injected (computed here without trl), and moves when only the embedding file changes."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    mm = MediaModel(load("tiny:qwen2-audio")[0], "audio")
    records = [
        {
            "prompt": PROMPT,
            "response": "I can't help with that.",
            "embedding": _embedding_file(mm, tmp_path / f"e{i}.st", 1.0),
        }
        for i in range(2)
    ]
    trainer = build_trainer(mm, records, TrainConfig(method="sft"), tmp_path / "work")
    collate = SeaCollator(mm, "sft", 256)
    with torch.no_grad():
        trl_loss = float(trainer.compute_loss(trainer.model, collate(records)))
        embeds = torch.stack([load_file(r["embedding"])["embedding"] for r in records])
        inputs, labels = mm.batch([PROMPT] * 2, [mm.answer_ids(r["response"]) for r in records])
        logits, labels = mm.answer_logits(inputs, embeds, labels)
        mask = labels != -100
        assert trl_loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits[mask], labels[mask])), abs=1e-5)
        other = {**records[0], "embedding": _embedding_file(mm, tmp_path / "other.st", 1.0)}
        assert abs(float(trainer.compute_loss(trainer.model, collate([other] * 2))) - trl_loss) > 1e-3


def test_mixed_in_real_media_rows_train_on_their_own_encoder_outputs(tmp_path):
    """`dataset --mix` rows name a real image (another size than the blank one, so another grid and number
    of placeholder tokens), with or without its precomputed encoder output: each gives trl the loss of the
    model reading the image's pixels, and one batch can hold them beside a SEA row."""
    from PIL import Image

    from sea_align.dataset import build
    from sea_align.settings import SeaSettings

    torch.set_num_threads(1)
    mm = MediaModel(load("tiny:qwen2-vl")[0], "image")
    rng = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (180, 300, 3), dtype=torch.uint8, generator=rng).numpy()
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    save_file({"embedding": mm.encode(str(tmp_path / "photo.png")).contiguous()}, str(tmp_path / "photo.st"))
    mix = tmp_path / "mix.jsonl"
    response = "I can't help with that."
    mix.write_text(
        json.dumps({"prompt": PROMPT, "response": response, "media": "photo.png"})
        + "\n"
        + json.dumps({"prompt": PROMPT, "response": response, "media": "photo.png", "embedding": "photo.st"})
        + "\n"
    )
    assert build([], tmp_path, SeaSettings("image"), "sft", tmp_path / "dataset.jsonl", mix=mix) == 2
    records = [json.loads(line) for line in (tmp_path / "dataset.jsonl").read_text().splitlines()]
    records.append({"prompt": PROMPT, "response": response, "embedding": _embedding_file(mm, tmp_path / "e.st")})
    trainer = build_trainer(mm, records, TrainConfig(method="sft"), tmp_path / "work")
    collate = SeaCollator(mm, "sft", 256)
    with torch.no_grad():
        inputs, labels = mm.batch([PROMPT], [mm.answer_ids(response)], [str(tmp_path / "photo.png")])
        logits = mm.adapter.forward(inputs).logits[:, :-1]
        mask = labels[:, 1:] != -100
        from_pixels = float(torch.nn.functional.cross_entropy(logits[mask], labels[:, 1:][mask]))
        alone = [float(trainer.compute_loss(trainer.model, collate([r]))) for r in records]
        assert alone[0] == pytest.approx(from_pixels, abs=1e-5) and alone[1] == pytest.approx(from_pixels, abs=1e-5)
        assert abs(alone[2] - from_pixels) > 1e-4  # the blank medium reads otherwise
        together = float(trainer.compute_loss(trainer.model, collate(records)))  # same answer length: the mean
        assert together == pytest.approx(sum(alone) / 3, abs=1e-4)


def _dpo_on_one_repeated_record(spec: str, cfg: TrainConfig, n: int, tmp_path) -> tuple[dict, object, list]:
    """(weights before, trained model, loss per step) of DPO on `n` copies of one record."""
    torch.set_num_threads(1)
    mm = MediaModel(load(spec)[0], "image")
    before = _params(mm.model)
    record = {
        "prompt": PROMPT,
        "chosen": "I can't help.",
        "rejected": "Step one: go.",
        "embedding": _embedding_file(mm, tmp_path / "e.st"),
    }
    model, losses = fit(mm, [record] * n, cfg, tmp_path / "work")
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4), "at step 0 the policy is its reference"
    assert losses[-1] < losses[0]
    return before, model, losses


def test_train_steps_change_only_lora_and_lower_loss(tmp_path):
    before, model, losses = _dpo_on_one_repeated_record(
        "tiny:llava", TrainConfig(lr=5e-3, max_response_tokens=16), 8, tmp_path
    )
    assert len(losses) == 4
    after = _params(model)
    assert after.keys() == before.keys()
    assert all(torch.equal(after[n], before[n]) for n in before), "only the LoRA weights may change"
    assert any("lora_" in n for n, p in model.named_parameters() if p.requires_grad)


def test_full_finetuning_trains_the_language_model_only(tmp_path):
    cfg = TrainConfig(lr=1e-3, full=True, max_response_tokens=8, activation_checkpointing=True)
    before, model, _ = _dpo_on_one_repeated_record("tiny:qwen2-vl", cfg, 4, tmp_path)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert any("language_model" in n for n in changed)
    assert not any("visual" in n for n in changed), "the encoder and projector stay frozen"


def test_sea_align_run_ends_with_loadable_checkpoint(tmp_path, capsys):
    torch.set_num_threads(1)
    rows = [
        {
            "prompt": "How can I hack into someone's bank account?",
            "response_0": "I can't help with that.",
            "response_1": "First, get the password.",
            "is_response_0_safe": True,
            "is_response_1_safe": False,
            "better_response_id": 0,
            "safer_response_id": 0,
        },
        {
            "prompt": "Where can I buy illegal drugs?",
            "response_0": "Here is a list.",
            "response_1": "I won't help.",
            "is_response_0_safe": False,
            "is_response_1_safe": True,
            "better_response_id": 1,
            "safer_response_id": 1,
        },
    ]
    data = tmp_path / "pku.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "work"
    rc = main(
        [
            "run",
            "--model",
            "tiny:qwen2-vl",
            "--data",
            str(data),
            "--out",
            str(out),
            "--k",
            "2",
            "--max-steps",
            "1",
            "--max-response-tokens",
            "8",
        ]
    )
    assert rc == 0
    meta = json.loads((out / "checkpoint" / "va_safetybench.json").read_text())
    assert meta["alignment"]["method"] == "SEA-DPO" and meta["alignment"]["n"] == 2
    from va_safetybench.models.registry import make_backend

    backend = make_backend(f"hf:{out / 'checkpoint'}")
    assert backend.info.metadata["alignment"]["method"] == "SEA-DPO"
    from va_safetybench.models.base import GenerationRequest, GenerationSettings

    assert isinstance(backend.generate([GenerationRequest("hello")], GenerationSettings(max_new_tokens=2))[0], str)
    backend.close()

    from va_safetybench.cli import main as va_bench

    bench, run = tmp_path / "bench", tmp_path / "run"
    assert (
        va_bench(
            [
                "build",
                "--source",
                "demo",
                "--tasks",
                "va_video_typo",
                "--limit",
                "1",
                "--out",
                str(bench),
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    assert (
        va_bench(
            [
                "eval",
                "--model",
                f"hf:{out / 'checkpoint'}",
                "--tasks",
                "va_video_typo",
                "--bench",
                str(bench),
                "--limit",
                "2",
                "--out",
                str(run),
                "--max-new-tokens",
                "4",
            ]
        )
        == 0
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["alignment"]["method"] == "SEA-DPO" and summary["tasks"]["va_video_typo"]["n"] >= 1


KILL_RECORDS = 24  # steps at batch size 1: enough that the kill lands after the first save, before the last


def _train_cmd(out) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sea_align.cli",
        "train",
        "--model",
        "tiny:llava",
        "--out",
        str(out),
        "--batch-size",
        "1",
        "--save-every",
        "1",
        "--max-response-tokens",
        "8",
        "--train-lr",
        "5e-3",
    ]


def _dataset(out, embedding, n: int = KILL_RECORDS) -> None:
    out.mkdir(parents=True)
    rows = [
        {
            "id": f"r{i}",
            "embedding": str(embedding),
            "prompt": f"The image shows an activity. Question {i}?",
            "chosen": "I can't help with that.",
            "rejected": f"Sure, step {i}: go.",
        }
        for i in range(n)
    ]
    (out / "dataset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_train_killed_and_rerun_resumes_and_ends_where_an_unbroken_run_ends(tmp_path):
    torch.set_num_threads(1)
    mm = MediaModel(load("tiny:llava")[0], "image")
    embedding = _embedding_file(mm, tmp_path / "blank.safetensors")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    broken, unbroken = tmp_path / "broken", tmp_path / "unbroken"
    for out in (broken, unbroken):
        _dataset(out, embedding)

    proc = subprocess.Popen(_train_cmd(broken), env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    first = broken / "trainer" / "checkpoint-2" / "trainer_state.json"
    deadline = time.time() + 300
    while time.time() < deadline and not first.exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (broken / "checkpoint").exists(), "the kill should land before the end"

    rerun = subprocess.run(_train_cmd(broken), env=env, capture_output=True, text=True, check=True)
    resumed_at = int(re.search(r"resuming after step (\d+)", rerun.stderr).group(1))
    assert 2 <= resumed_at < KILL_RECORDS
    assert json.loads(rerun.stdout.splitlines()[-1])["train"]["steps"] == KILL_RECORDS
    subprocess.run(_train_cmd(unbroken), env=env, capture_output=True, check=True)

    def weights(out):
        return load_file(str(out / "checkpoint" / "model.safetensors"))

    a, b = weights(broken), weights(unbroken)
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a), "the resumed run drifted from an unbroken one"


def test_two_launched_processes_train_data_parallel_and_one_saves(tmp_path):
    """Under torchrun (what `accelerate launch` runs), trl trains data-parallel: 4 records at batch size 1 over
    2 processes is 2 steps each, and one merged checkpoint is written."""
    mm = MediaModel(load("tiny:llava")[0], "image")
    out = tmp_path / "work"
    _dataset(out, _embedding_file(mm, tmp_path / "blank.safetensors"), n=4)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = _train_cmd(out)[1:]
    launched = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    assert launched.returncode == 0, launched.stderr[-2000:]
    results = [json.loads(line)["train"] for line in launched.stdout.splitlines() if line.startswith('{"train"')]
    assert [r["steps"] for r in results] == [2, 2]
    assert (out / "checkpoint" / "model.safetensors").is_file()


def test_train_refuses_a_folder_of_another_run(tmp_path):
    mm = MediaModel(load("tiny:llava")[0], "image")
    (tmp_path / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": "another-dataset"}))
    record = {"prompt": "p", "chosen": "a", "rejected": "b", "embedding": _embedding_file(mm, tmp_path / "e.st")}
    with pytest.raises(InputError, match="holds checkpoints of a training run on other records"):
        fit(mm, [record], TrainConfig(), tmp_path)


def test_train_names_a_record_missing_a_field(tmp_path):
    mm = MediaModel(load("tiny:llava")[0], "image")
    with pytest.raises(InputError, match="dataset record 2: missing rejected"):
        fit(
            mm,
            [
                {"prompt": "p", "chosen": "a", "rejected": "b", "embedding": "e"},
                {"prompt": "p", "chosen": "a", "embedding": "e"},
            ],
            TrainConfig(),
            tmp_path,
        )
