"""`vllm:` request building for today's families, without the engine: each saved tiny checkpoint's processor and
family (read from its config, as VLLMBackend does) give the chat-templated prompt with one unexpanded placeholder
per medium and `multi_modal_data` sampled as the family samples it (Voxtral: mistral-common's token ids)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from va_safetybench.models.base import GenerationRequest, Media
from va_safetybench.models.vllm_backend import build_vllm_input, family_of, load_processor

from .model_media import write_media

# family -> (media kinds, frames per video from the 2 s / 48-frame test clip, whether frames carry metadata)
CASES = {
    "qwen2_5_omni": (("image", "video", "audio"), 4, False),
    "qwen3_omni_moe": (("image", "video", "audio"), 4, True),
    "qwen3_vl": (("image", "video"), 4, True),
    "llava_onevision": (("image", "video"), 32, False),
    "llava_next_video": (("image", "video"), 32, False),
    "internvl": (("image", "video"), 8, False),
    "gemma3n": (("image", "audio"), None, False),
    "phi4_multimodal": (("image", "audio"), None, False),
}
FILES = {"image": "png", "video": "mp4", "audio": "wav"}


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    return write_media(tmp_path_factory.mktemp("media"))


@pytest.mark.parametrize("family", list(CASES))
def test_family_prompt_and_multimodal_data(family, family_dirs, media):  # noqa: F811
    kinds, frames, with_metadata = CASES[family]
    folder = str(family_dirs[family])
    processor, cls = load_processor(folder), family_of(folder)
    request = GenerationRequest("What is shown?", tuple(Media(k, media[FILES[k]]) for k in kinds))  # type: ignore[arg-type]
    item = build_vllm_input(processor, request, family=cls)
    prompt, data = item["prompt"], item["multi_modal_data"]
    turn = [{"role": "user", "content": [{"type": "text", "text": "x"}]}]
    with_prompt, without = (processor.apply_chat_template(turn, add_generation_prompt=g) for g in (True, False))
    assert set(data) == set(kinds) and "What is shown?" in prompt
    assert with_prompt.startswith(without) and prompt.endswith(with_prompt[len(without) :])  # the assistant turn
    for kind in kinds:  # vLLM expands the placeholders itself: exactly one per medium here
        token = getattr(processor, f"{kind}_token")
        assert prompt.count(token) == 1, (kind, token, prompt)
    if "video" in kinds:
        clip = data["video"]
        if with_metadata:
            clip, metadata = clip
            assert len(metadata["frames_indices"]) == frames and metadata["fps"] == 24.0
        assert (
            isinstance(clip, np.ndarray) and clip.dtype == np.uint8 and clip.shape[0] == frames and clip.shape[3] == 3
        )
    if "audio" in kinds:
        samples, rate = data["audio"]
        assert rate == 16000 and samples.dtype == np.float32 and len(samples) == 24000  # 1.5 s at 16 kHz
    if "image" in kinds:
        assert data["image"].mode == "RGB"


def test_voxtral_is_built_from_mistral_commons_tokens(family_dirs, media):  # noqa: F811
    """vLLM gets Voxtral as token ids and padded audio, the same ids the hf path feeds the model."""
    from va_safetybench.models.hf import HFBackend

    folder = str(family_dirs["voxtral"])
    processor, cls = load_processor(folder), family_of(folder)
    request = GenerationRequest("What is said?", (Media("audio", media["wav"]),))
    item = build_vllm_input(processor, request, family=cls)
    assert set(item) == {"prompt_token_ids", "multi_modal_data"}
    ids = item["prompt_token_ids"]
    assert ids.count(processor.audio_token_id) == 375  # one 30 s window at 12.5 tokens per second
    ((samples, rate),) = item["multi_modal_data"]["audio"]
    assert rate == 16000 and len(samples) == 30 * 16000
    hf = HFBackend(folder, dtype="float32").adapter
    assert hf.build_inputs([request])["input_ids"][0].tolist() == ids
    text_only = build_vllm_input(processor, GenerationRequest("Plain question."), family=cls)
    assert set(text_only) == {"prompt_token_ids"} and processor.audio_token_id not in text_only["prompt_token_ids"]


def test_modalities_are_known_before_any_engine_or_weight(family_dirs, tmp_path):  # noqa: F811
    """The harness refuses a task from these, before vLLM starts or weights load (any backend of the folder)."""
    from va_safetybench.models.registry import declared_modalities

    for family, (kinds, _, _) in CASES.items():
        for backend in ("hf", "vllm"):
            assert declared_modalities(f"{backend}:{family_dirs[family]}") == frozenset(kinds), (family, backend)
    assert declared_modalities(f"vllm:{family_dirs['voxtral']}") == frozenset({"audio"})
    assert declared_modalities(f"vllm:{tmp_path}") is None and declared_modalities("openai:gpt-4o") is None
