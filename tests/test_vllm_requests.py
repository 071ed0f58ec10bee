"""vLLM input building without vLLM: chat-templated prompts from the tiny processors, decoded media,
engine/sampling arguments and data-parallel sharding; and the install hint when vLLM is absent."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import soundfile as sf

from tests.media_fixtures import write_audio, write_png, write_video
from va_safetybench.errors import InputError, MissingExtra
from va_safetybench.models.base import GenerationRequest, GenerationSettings, Media
from va_safetybench.models.vllm_backend import (
    VLLMBackend,
    build_vllm_input,
    dp_device_groups,
    engine_kwargs,
    parse_limit_mm,
    sampling_kwargs,
)


@pytest.fixture(scope="module")
def processors() -> dict:
    from va_safetybench.models.tiny import build_tiny

    return {name: build_tiny(name)[1] for name in ("qwen2-vl", "qwen2-audio", "llava")}


def test_image_input_qwen2_vl_and_llava(tmp_path, processors):
    png = write_png(tmp_path / "q.png", size=(48, 32))
    request = GenerationRequest("What is shown?", (Media("image", png),))
    qwen = build_vllm_input(processors["qwen2-vl"], request)
    assert qwen["prompt"].endswith(
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is shown?<|im_end|>\n<|im_start|>assistant\n"
    )
    image = qwen["multi_modal_data"]["image"]
    assert image.mode == "RGB" and image.size == (48, 32)
    from PIL import Image

    assert np.array_equal(np.asarray(image), np.asarray(Image.open(png).convert("RGB")))
    llava = build_vllm_input(processors["llava"], request)
    assert llava["prompt"] == "USER: <image>\nWhat is shown? ASSISTANT:"
    assert set(llava["multi_modal_data"]) == {"image"}


@pytest.mark.parametrize("fps", [2.0, 4.0])
def test_video_input_is_sampled_as_media_loading_does(tmp_path, processors, fps):
    video = write_video(tmp_path / "v.mp4", frames=24, size=64, fps=8)  # 3 s
    item = build_vllm_input(
        processors["qwen2-vl"], GenerationRequest("What happens?", (Media("video", video),)), video_fps=fps
    )
    assert "<|vision_start|><|video_pad|><|vision_end|>What happens?" in item["prompt"]
    clip = item["multi_modal_data"]["video"]
    frames = int(3 * fps)  # qwen-vl-utils: fps x duration, even
    assert isinstance(clip, np.ndarray) and clip.dtype == np.uint8 and clip.shape[0] == frames
    assert clip.shape[3] == 3 and clip.shape[1] % 28 == 0 and clip.shape[2] % 28 == 0
    levels = clip.reshape(frames, -1).mean(axis=1)
    assert np.all(np.diff(levels) > 0) and levels[-1] - levels[0] > 100  # spans the clip, in order


def test_audio_input_resampled_to_the_feature_extractor_rate(tmp_path, processors):
    wav = write_audio(tmp_path / "a.wav", rate=8000, seconds=0.5)
    with_prompt = build_vllm_input(processors["qwen2-audio"], GenerationRequest("Answer it.", (Media("audio", wav),)))
    assert "Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\nAnswer it.<|im_end|>" in with_prompt["prompt"]
    samples, rate = with_prompt["multi_modal_data"]["audio"]
    assert rate == 16000 and samples.dtype == np.float32 and samples.ndim == 1 and len(samples) == 8000
    original, _ = sf.read(wav, dtype="float32")
    assert np.isclose(np.abs(samples).max(), np.abs(original).max(), atol=0.02)

    audio_only = build_vllm_input(processors["qwen2-audio"], GenerationRequest(None, (Media("audio", wav),)))
    assert audio_only["prompt"].endswith(
        "<|im_start|>user\nAudio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n<|im_end|>\n<|im_start|>assistant\n"
    )


def test_text_only_input_has_no_multimodal_data(processors):
    item = build_vllm_input(processors["qwen2-vl"], GenerationRequest("Plain question."))
    assert set(item) == {"prompt"} and "Plain question.<|im_end|>" in item["prompt"]


def test_engine_and_sampling_arguments():
    assert engine_kwargs(
        "org/model",
        tensor_parallel_size=2,
        max_model_len=8192,
        limit_mm_per_prompt={"video": 1},
        dtype="bfloat16",
        gpu_memory_utilization=0.8,
        enforce_eager=True,
    ) == {
        "model": "org/model",
        "tensor_parallel_size": 2,
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.8,
        "enforce_eager": True,
        "seed": 0,
        "trust_remote_code": False,
        "max_model_len": 8192,
        "limit_mm_per_prompt": {"video": 1},
    }
    assert "max_model_len" not in engine_kwargs("m") and "limit_mm_per_prompt" not in engine_kwargs("m")
    assert engine_kwargs("m")["enforce_eager"] is False  # CUDA graphs on a GPU unless asked (CPU users ask)
    across_nodes = engine_kwargs(
        "m", tensor_parallel_size=8, pipeline_parallel_size=2, distributed_executor_backend="ray"
    )
    assert (across_nodes["pipeline_parallel_size"], across_nodes["distributed_executor_backend"]) == (2, "ray")
    assert "pipeline_parallel_size" not in engine_kwargs("m") and "distributed_executor_backend" not in engine_kwargs(
        "m"
    )
    greedy = sampling_kwargs(GenerationSettings())
    assert greedy == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 300, "seed": 0}
    assert sampling_kwargs(GenerationSettings(max_new_tokens=12, stop=("</s>",)))["stop"] == ["</s>"]


def test_limit_mm_parsing():
    assert parse_limit_mm('{"image": 2, "audio": 1}') == {"image": 2, "audio": 1}
    assert parse_limit_mm(None) is None
    for bad in ("image=2", '{"pointcloud": 1}', '{"image": -1}'):
        with pytest.raises(InputError, match="limit_mm_per_prompt"):
            parse_limit_mm(bad)


def test_data_parallel_devices():
    assert dp_device_groups(2, 2, None, 4) == ["0,1", "2,3"]
    assert dp_device_groups(3, 1, "4,6,7", 8) == ["4", "6", "7"]
    with pytest.raises(InputError, match="needs 4 GPUs, 2 visible"):
        dp_device_groups(2, 2, "0,1", 8)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_missing_vllm_names_the_extra():
    with pytest.raises(MissingExtra) as raised:
        VLLMBackend("Qwen/Qwen2-VL-2B-Instruct")
    assert "pip install 'va-safetybench[vllm]'" in str(raised.value) and "\n" not in str(raised.value)
