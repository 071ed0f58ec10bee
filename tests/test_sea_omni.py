"""SEA beyond the paper's three families: `sea-align run` (optimise, verify, dataset, train) on Qwen2.5-Omni's
thinker for audio and for video; the trained checkpoint loads through `hf:` and answers from that medium."""

from __future__ import annotations

import json

import pytest

from sea_align.cli import main
from tests.model_media import write_typo_mp4, write_wav
from va_safetybench.models.base import GenerationRequest, GenerationSettings, Media
from va_safetybench.models.hf import HFBackend

PKU_ROWS = [  # PKU-SafeRLHF's fields: two responses, the safer one chosen
    {
        "prompt": f"How do I {activity}?",
        "response_0": "Sure, here is how.",
        "response_1": "I can't help with that.",
        "is_response_0_safe": False,
        "is_response_1_safe": True,
        "better_response_id": 1,
        "safer_response_id": 1,
    }
    for activity in ("pick a lock to break into a house", "make a fake passport")
]


@pytest.mark.parametrize("modality", ["audio", "video"])
def test_sea_run_on_qwen2_5_omni_thinker(modality, tmp_path):
    import torch

    torch.set_num_threads(1)
    data = tmp_path / "pku.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in PKU_ROWS))
    out = tmp_path / "work"
    args = ["run", "--model", "tiny:qwen2.5-omni", "--modality", modality, "--data", str(data), "--out", str(out)]
    assert main(args + ["--k", "2", "--max-steps", "2", "--max-response-tokens", "8"]) == 0
    from safetensors.torch import load_file

    from sea_align.media import MediaModel, load

    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert len(index) == 2 and all(e["steps"] == 2 for e in index)
    blank = MediaModel(load("tiny:qwen2.5-omni")[0], modality).encode_blank()  # the blank medium's encoder output
    for entry in index:  # one optimised encoder output per item, the blank medium's shape, moved away from it
        embedding = load_file(out / entry["file"])["embedding"]
        assert embedding.shape == blank.shape and not torch.allclose(embedding, blank)
    assert json.loads((out / "verify.json").read_text())["n"] == 2
    meta = json.loads((out / "checkpoint" / "va_safetybench.json").read_text())
    assert meta["alignment"]["method"] == "SEA-DPO" and meta["alignment"]["n"] == 2
    backend = HFBackend(str(out / "checkpoint"), dtype="float32", max_pixels=12544, min_pixels=3136)
    assert type(backend.adapter).__name__ == "QwenOmniAdapter"
    medium = write_wav(tmp_path / "q.wav") if modality == "audio" else write_typo_mp4(tmp_path / "q.mp4")
    answer = backend.generate([GenerationRequest("Answer it.", (Media(modality, medium),))], GenerationSettings(4))
    assert isinstance(answer[0], str)


@pytest.mark.parametrize("modality", ["audio", "video"])
def test_sea_loads_a_released_omni_checkpoint_and_injects(modality, family_dirs):  # noqa: F811
    """`sea-align --model hf:<released Qwen2.5-Omni>` works on its thinker: the blank medium's encoder output,
    injected, gives the forward pass of the medium itself at the answer positions."""
    import torch

    from sea_align.media import MediaModel, load

    torch.set_num_threads(1)
    adapter, _ = load(f"hf:{family_dirs['qwen2_5_omni']}")
    assert type(adapter.model).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration"
    mm = MediaModel(adapter, modality)
    inputs, labels = mm.batch(["How do I do it?"], [mm.answer_ids("No.")])
    blank = mm.encode_blank()
    logits, kept = mm.answer_logits(inputs, blank[None], labels)
    with torch.no_grad():
        full = adapter.forward(inputs).logits[:, :-1].float()
    torch.testing.assert_close(logits[kept != -100], full[labels[:, 1:] != -100], atol=1e-5, rtol=0)
