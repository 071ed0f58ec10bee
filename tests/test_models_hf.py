"""hf and tiny backends: real media through real tiny models, batching, bad media, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.model_media import task_requests, write_media, write_typo_mp4, write_wav
from va_safetybench.errors import InputError
from va_safetybench.models.base import GenerationError, GenerationRequest, GenerationSettings, Media
from va_safetybench.models.registry import make_backend, parse_model_args

FAMILIES = ["qwen2-vl", "qwen2-audio", "llava"]
SETTINGS = GenerationSettings(max_new_tokens=6)
# Qwen2-VL at its ~1M-parameter "mini" shape: the same code path as the ~20M default, cheap on shared CPUs.
ARGS = {"qwen2-vl": {"shape": "mini"}, "qwen2-audio": {}, "llava": {}}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def backends() -> dict:
    return {name: make_backend(f"tiny:{name}", {"seed": 1, "batch_size": 4, **ARGS[name]}) for name in FAMILIES}


@pytest.fixture(scope="module")
def reference(backends, media) -> dict[str, list]:
    """Batched outputs for each family's task requests, shared by the tests that compare against them."""
    return {name: backends[name].generate(task_requests(name, media), SETTINGS) for name in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_each_task_variant_generates_and_batched_equals_one_by_one(family, backends, media, reference):
    backend = backends[family]
    single = [backend.generate([r], SETTINGS)[0] for r in task_requests(family, media)]
    assert all(isinstance(r, str) for r in reference[family]), reference[family]
    assert reference[family] == single
    assert backend.info.backend == "tiny" and backend.info.random_weights


@pytest.mark.parametrize("family", FAMILIES)
def test_media_reach_the_model_as_placeholder_tokens(family, backends, media):
    """Each media file expands to the placeholder count its processed size implies."""
    adapter = backends[family].adapter
    request = task_requests(family, media)[1]
    inputs = adapter.build_inputs([request])
    placeholders = int(sum((inputs["input_ids"] == tok).sum() for tok in _placeholder_tokens(adapter)))
    if family == "qwen2-vl":  # video: 48 frames at 24 fps -> 4 frames -> 2 temporal patches
        assert inputs["video_grid_thw"].tolist()[0][0] == 2
        assert placeholders == int(inputs["video_grid_thw"].prod()) // 4
    elif family == "qwen2-audio":  # 1.5 s -> 150 mel frames -> 75 after the conv -> 37 after pooling
        assert placeholders == 37
    else:  # 56x56 CLIP input, patch 14, CLS dropped
        assert placeholders == 16
    assert adapter.encode_media(inputs).shape[0] == placeholders


def _placeholder_tokens(adapter) -> list[int]:
    config = adapter.model.config
    return [getattr(config, a) for a in ("image_token_id", "video_token_id", "audio_token_id") if hasattr(config, a)]


@pytest.mark.parametrize(
    "family,bad", [("qwen2-vl", "bad_mp4"), ("qwen2-vl", "bad_png"), ("qwen2-audio", "bad_wav"), ("llava", "bad_png")]
)
def test_corrupt_media_fails_only_its_request(family, bad, backends, media, reference):
    backend = backends[family]
    good = task_requests(family, media)
    kind = {"bad_mp4": "video", "bad_png": "image", "bad_wav": "audio"}[bad]
    broken = GenerationRequest("Describe it.", (Media(kind, media[bad]),))
    results = backend.generate([good[0], broken, *good[1:]], SETTINGS)
    assert isinstance(results[1], GenerationError) and media[bad].name in results[1].message
    assert [results[0], *results[2:]] == reference[family]


def test_wrong_modality_is_an_error_for_that_request(backends, media):
    results = backends["llava"].generate(
        [GenerationRequest("x", (Media("audio", media["wav"]),)), GenerationRequest("y")], SETTINGS
    )
    assert isinstance(results[0], GenerationError) and isinstance(results[1], str)


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_tiny_model_loads_through_hf_with_same_outputs(family, backends, media, reference, tmp_path):
    from va_safetybench.models.tiny import save_tiny

    shape = ARGS[family].get("shape", "tiny")
    save_tiny(family, str(tmp_path), seed=1, shape=shape)
    options = backends[family].adapter.options
    loaded = make_backend(
        f"hf:{tmp_path}",
        {"dtype": "float32", "max_pixels": options.max_pixels, "min_pixels": options.min_pixels, "batch_size": 4},
    )
    assert loaded.generate(task_requests(family, media), SETTINGS) == reference[family]
    assert loaded.info.backend == "hf" and loaded.info.random_weights
    assert loaded.info.metadata["tiny"] == {"name": family, "seed": 1, "shape": shape}


def test_seed_makes_tiny_weights_deterministic():
    from va_safetybench.models.tiny import build_tiny

    a, b, c = (build_tiny("llava", seed=s)[0].state_dict() for s in (3, 3, 4))
    key = "lm_head.weight"
    assert a[key].equal(b[key]) and not a[key].equal(c[key])


def test_default_tiny_qwen2_vl_is_about_20m_parameters_and_generates_from_video(media):
    backend = make_backend("tiny:qwen2-vl", {})
    n = sum(p.numel() for p in backend.adapter.model.parameters())
    assert 19_000_000 < n < 22_000_000
    request = GenerationRequest("The video shows a phrase.", (Media("video", media["mp4"]),))
    assert isinstance(backend.generate([request], GenerationSettings(max_new_tokens=2))[0], str)


def test_video_sampling_follows_qwen_vl_utils(tmp_path):
    from va_safetybench.models.media_loading import load_video, sample_count

    video = load_video(write_typo_mp4(tmp_path / "v.mp4", frames=48, fps=24), fps=2.0, max_pixels=360 * 420)
    assert video.indices == [0, 16, 31, 47]  # 2 s at 2 fps -> 4 frames, linspace(0, 47, 4).round()
    t, c, h, w = video.frames.shape
    assert (t, c) == (4, 3) and h % 28 == 0 and w % 28 == 0 and h * w <= 360 * 420
    # frames are in playback order: the grey level grows 4 per frame
    corners = [float(video.frames[i, :, :4, :4].mean()) for i in range(4)]
    assert corners == sorted(corners) and corners[-1] - corners[0] > 100
    assert [sample_count(n, 24.0) for n in (48, 120, 240)] == [4, 10, 20]  # 2, 5, 10 s at 2 fps
    assert sample_count(121, 24.0) == 10 and sample_count(30, 30.0) == 4  # rounded to 2; at least 4


def test_audio_is_resampled_to_mono_at_processor_rate(tmp_path):
    from va_safetybench.models.media_loading import load_audio

    wave = load_audio(write_wav(tmp_path / "a.wav", rate=8000, seconds=1.0, channels=2), 16000)
    assert wave.ndim == 1 and abs(len(wave) - 16000) <= 1


def test_unknown_backend_and_tiny_names_list_valid_ones():
    with pytest.raises(InputError, match="hf, tiny, openai, vllm"):
        make_backend("nope:x", {})
    with pytest.raises(InputError, match="tiny:qwen2-vl, tiny:qwen2-audio, tiny:llava"):
        make_backend("tiny:gpt", {})
    with pytest.raises(InputError, match="bad --model-args"):
        make_backend("tiny:llava", {"no_such_arg": 1})
    with pytest.raises(InputError, match="valid shapes: tiny, mini, 2b, 7b"):
        make_backend("tiny:qwen2-vl", {"shape": "huge"})


@pytest.mark.parametrize("shape,released_params", [("2b", 2_208_985_600), ("7b", 8_291_375_616)])
def test_released_qwen2_vl_shapes_have_their_checkpoints_parameter_count(shape, released_params):
    """Built on the meta device (no memory): with the released vocabulary in place of the byte-level one,
    the random model has as many parameters as Qwen2-VL-2B/7B-Instruct, so timings on it carry over."""
    from va_safetybench.models.tiny import RELEASED_VOCAB, build_tiny

    model, _ = build_tiny("qwen2-vl", shape=shape, device="meta")
    text = model.config.text_config
    embeddings = 1 if model.config.tie_word_embeddings else 2  # the 7B model has its own LM head
    count = sum(p.numel() for p in model.parameters())
    assert count + (RELEASED_VOCAB[shape] - text.vocab_size) * text.hidden_size * embeddings == released_params


def test_parse_model_args_types_values():
    assert parse_model_args("dtype=bfloat16,batch_size=16,fps=2.0,trust_remote_code=true,device_map=none") == {
        "dtype": "bfloat16",
        "batch_size": 16,
        "fps": 2.0,
        "trust_remote_code": True,
        "device_map": None,
    }
    assert parse_model_args("") == {}
    with pytest.raises(InputError, match="key=value"):
        parse_model_args("dtype")
