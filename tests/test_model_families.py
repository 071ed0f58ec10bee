"""Today's video/audio families through `va-bench eval --model hf:DIR`: tiny random checkpoints built from each
family's own transformers classes (tests/family_checkpoints.py), saved, loaded back by path, run on every VA
task their modalities allow; each modality's placeholder tokens reach the model and its encoder runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from va_safetybench.cli import main
from va_safetybench.errors import InputError
from va_safetybench.models.base import GenerationRequest, GenerationSettings, Media
from va_safetybench.models.hf import HFBackend

from .conftest import REPO
from .family_checkpoints import save_family
from .harness_support import ONE_THREAD_ENV, build_small_bench, one_torch_thread, read_jsonl  # noqa: F401
from .model_media import write_media

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# family -> (adapter class, modalities, transformers class that must be loaded)
FAMILIES = {
    "qwen2_5_omni_thinker": (
        "QwenOmniAdapter",
        {"image", "video", "audio"},
        "Qwen2_5OmniThinkerForConditionalGeneration",
    ),
    "qwen2_5_omni": ("QwenOmniAdapter", {"image", "video", "audio"}, "Qwen2_5OmniThinkerForConditionalGeneration"),
    "qwen3_vl": ("Qwen3VLAdapter", {"image", "video"}, "Qwen3VLForConditionalGeneration"),
    "llava_onevision": ("LlavaVideoAdapter", {"image", "video"}, "LlavaOnevisionForConditionalGeneration"),
    "llava_next_video": ("LlavaVideoAdapter", {"image", "video"}, "LlavaNextVideoForConditionalGeneration"),
    "internvl": ("InternVLAdapter", {"image", "video"}, "InternVLForConditionalGeneration"),
    "gemma3n": ("Gemma3nAdapter", {"image", "audio"}, "Gemma3nForConditionalGeneration"),
    "qwen3_omni_moe_thinker": (
        "Qwen3OmniAdapter",
        {"image", "video", "audio"},
        "Qwen3OmniMoeThinkerForConditionalGeneration",
    ),
    "qwen3_omni_moe": ("Qwen3OmniAdapter", {"image", "video", "audio"}, "Qwen3OmniMoeThinkerForConditionalGeneration"),
    "voxtral": ("VoxtralAdapter", {"audio"}, "VoxtralForConditionalGeneration"),
    "phi4_multimodal": ("Phi4MultimodalAdapter", {"image", "audio"}, "Phi4MultimodalForCausalLM"),
}
TASKS = {"video": ["va_video_typo"], "audio": ["va_audio_only", "va_audio_kpt"], "image": ["mmsb_typo"]}
# each modality's encoder module, by its name in the families' models (Phi-4: the *_embed blocks around them)
VISION = ("visual", "vision_tower", "img_processor")
ENCODERS = {"image": VISION, "video": VISION, "audio": ("audio_tower", "audio_embed.encoder")}
SMALL = "max_pixels=12544,min_pixels=3136"  # 16 and 4 patches of 28x28: tiny frames for the tiny models


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return build_small_bench(tmp_path_factory.mktemp("bench") / "bench", scenarios="1", limit=1)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    return write_media(tmp_path_factory.mktemp("media"))


class Spy:
    """Forward hooks on a loaded model: the input ids of every prefill and which encoders ran."""

    def __init__(self) -> None:
        self.prefill_ids: list = []
        self.encoder_calls: dict[str, int] = {}
        self.adapter: Any = None  # the adapter the CLI built

    def attach(self, model) -> None:
        def record_ids(_module, _args, kwargs):
            ids = kwargs.get("input_ids")
            if ids is not None and ids.shape[1] > 1:
                self.prefill_ids.append(ids.clone())

        model.register_forward_pre_hook(record_ids, with_kwargs=True)
        for name, module in model.named_modules():
            key = next((k for names in ENCODERS.values() for k in names if f".{name}".endswith(f".{k}")), None)
            if key is not None:

                def count(_m, _i, _o, key=key):
                    self.encoder_calls[key] = self.encoder_calls.get(key, 0) + 1

                module.register_forward_hook(count)

    def count(self, token_id: int) -> int:
        return sum(int((ids == token_id).sum()) for ids in self.prefill_ids)


@pytest.fixture
def spy(monkeypatch) -> Spy:
    """Hooks every adapter the CLI loads (GenericAdapter.__init__ sees the model first)."""
    from va_safetybench.models.adapters.generic import GenericAdapter

    spy = Spy()
    original = GenericAdapter.__init__

    def init(self, model, processor, options=None):
        original(self, model, processor, options)
        spy.adapter = self
        spy.attach(model)

    monkeypatch.setattr(GenericAdapter, "__init__", init)
    return spy


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_runs_its_va_tasks_through_hf_eval(family, family_dirs, bench, tmp_path, spy):  # noqa: F811
    adapter_name, modalities, model_class = FAMILIES[family]
    tasks = [t for m in sorted(modalities) for t in TASKS[m]]
    out = tmp_path / "run"
    code = main(
        ["eval", "--model", f"hf:{family_dirs[family]}", "--model-args", f"dtype=float32,{SMALL}"]
        + ["--tasks", ",".join(tasks), "--bench", str(bench), "--out", str(out), "--max-new-tokens", "3"]
    )
    assert code == 0
    adapter = spy.adapter
    assert type(adapter).__name__ == adapter_name and type(adapter.model).__name__ == model_class
    assert adapter.modalities == modalities
    rows = read_jsonl(out / "responses.jsonl")
    assert sorted({r["task"] for r in rows}) == sorted(tasks)
    assert all(r["error"] is None for r in rows), [
        r["error"] for r in rows
    ]  # generated (the judge may not judge noise)
    for kind, token_id in adapter.placeholder_ids().items():
        if kind in modalities:
            assert spy.count(token_id) > 0, f"no {kind} placeholder reached the model"
    for kind in modalities:
        assert any(spy.encoder_calls.get(n) for n in ENCODERS[kind]), f"{kind} encoder never ran: {spy.encoder_calls}"


@pytest.mark.parametrize("released_type", ["qwen2_5_omni", "qwen3_omni_moe"])
def test_released_omni_checkpoint_loads_the_thinker_only_with_its_weights(released_type, family_dirs, media):  # noqa: F811
    """The released layout (thinker config and weights under `thinker.`) gives the thinker's own outputs, text out."""
    config = json.loads((family_dirs[released_type] / "config.json").read_text())
    assert config["model_type"] == released_type and "thinker_config" in config
    args: dict[str, Any] = {"dtype": "float32", "max_pixels": 12544, "min_pixels": 3136}
    released, thinker = (HFBackend(str(family_dirs[n]), **args) for n in (released_type, f"{released_type}_thinker"))
    assert not hasattr(released.adapter.model, "talker")
    requests = [
        GenerationRequest("Describe it.", (Media("audio", media["wav"]),)),
        GenerationRequest("Describe it.", (Media("video", media["mp4"]),)),
    ]
    settings = GenerationSettings(max_new_tokens=4)
    outputs = released.generate(requests, settings)
    assert all(isinstance(o, str) for o in outputs) and outputs == thinker.generate(requests, settings)


def test_video_frames_follow_each_family(family_dirs, media):  # noqa: F811
    """The project's fps sampler for the Qwen families (with timestamps for Qwen3-VL), a fixed count elsewhere."""
    args: dict[str, Any] = {"dtype": "float32", "max_pixels": 12544, "min_pixels": 3136}
    request = GenerationRequest("What happens?", (Media("video", media["mp4"]),))  # 48 frames at 24 fps
    qwen3 = HFBackend(str(family_dirs["qwen3_vl"]), **args).adapter
    assert [v.indices for v in qwen3.prepare(request).media["videos"]] == [[0, 16, 31, 47]]  # 2 s at 2 fps
    text = qwen3.processor.batch_decode(qwen3.build_inputs([request])["input_ids"])[0]
    assert "<0.3 seconds>" in text and "<1.6 seconds>" in text  # Qwen3-VL's timestamps from the metadata
    onevision = HFBackend(str(family_dirs["llava_onevision"]), **args).adapter
    assert len(onevision.prepare(request).media["videos"][0].indices) == 32
    internvl = HFBackend(str(family_dirs["internvl"]), **args).adapter
    assert internvl.prepare(request).media["videos"][0].indices == [0, 7, 13, 20, 27, 34, 40, 47]


def test_modality_refused_before_any_weight_is_read(tmp_path, bench):
    """A folder with a config and processor but no weights: an audio task on a vision model fails on the
    modality (exit 2, one line), not on the missing weights."""
    folder = save_family("qwen3_vl", tmp_path / "ck", weights=False)
    assert not list(folder.glob("*.safetensors"))
    result = subprocess.run(
        [sys.executable, "-m", "va_safetybench.cli", "eval", "--model", f"hf:{folder}", "--tasks", "va_audio_only"]
        + ["--bench", str(bench), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **ONE_THREAD_ENV},
        timeout=300,
    )
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert "takes image, video" in message and "va_audio_only (audio)" in message and "Traceback" not in result.stderr
    from va_safetybench.models.registry import make_backend

    with pytest.raises(InputError, match="cannot load the weights"):
        make_backend(f"hf:{folder}", {"dtype": "float32"})


def test_unknown_architecture_lists_the_families(tmp_path):
    from va_safetybench.models.registry import make_backend

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 10}))
    with pytest.raises(InputError) as raised:
        make_backend(f"hf:{tmp_path}", {})
    message = str(raised.value)
    assert "'bert' is not a supported architecture" in message and "qwen2_5_omni" in message and "\n" not in message
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "my_vlm", "auto_map": {"AutoConfig": "x.Y"}}))
    with pytest.raises(InputError) as raised:  # remote code may define any architecture: it is tried, not refused
        make_backend(f"hf:{tmp_path}", {"trust_remote_code": True})
    assert "not a supported architecture" not in str(raised.value)


def test_missing_optional_package_names_the_extra(family_dirs, bench, tmp_path):  # noqa: F811
    """Gemma 3n without timm: one line naming the extra, exit 2 (a stub `timm` that fails to import)."""
    stub = tmp_path / "stub" / "timm"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('timm is not installed')\n")
    result = subprocess.run(
        [sys.executable, "-m", "va_safetybench.cli", "eval", "--model", f"hf:{family_dirs['gemma3n']}"]
        + ["--tasks", "va_audio_only", "--bench", str(bench), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **ONE_THREAD_ENV, "PYTHONPATH": f"{stub.parent}:{REPO}"},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'va-safetybench[gemma3n]'" in result.stderr and "Traceback" not in result.stderr


def _talking_mp4(path: Path) -> Path:
    """4 s of video at 8 fps with a 440 Hz AAC track (two of the Omni processor's 2 s chunks)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=8)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for i in range(32):
            for packet in video.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), 7 * i, np.uint8), "rgb24")):
                container.mux(packet)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(64000) / 16000)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        frame.sample_rate = 16000
        for packet in audio.encode(frame):
            container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    return path


def test_omni_hears_a_videos_audio_track_only_when_asked(family_dirs, media, tmp_path, spy):  # noqa: F811
    """audio_in_video=true: the track's audio tokens are interleaved with the frames' and the audio tower runs;
    by default the same request has no audio token; a family that cannot hear videos refuses the option."""
    import torch

    clip = _talking_mp4(tmp_path / "talk.mp4")
    requests = [
        GenerationRequest("What is said?", (Media("video", clip),)),
        GenerationRequest("And here?", (Media("audio", media["wav"]), Media("video", clip))),
    ]
    folder = str(family_dirs["qwen2_5_omni_thinker"])
    args: dict[str, Any] = {"dtype": "float32", "max_pixels": 12544, "min_pixels": 3136, "batch_size": 2}
    for asked in (False, True):
        backend = HFBackend(folder, audio_in_video=asked, **args)
        tokens = backend.adapter.placeholder_ids()
        ids = backend.adapter.build_inputs(requests[:1])["input_ids"][0]
        audio, video = ((ids == tokens[k]).nonzero() for k in ("audio", "video"))
        assert bool(len(audio)) is asked and len(video) > 0
        if asked:  # interleaved chunk by chunk in time (video, audio, video, audio), all inside the video's span
            assert video.min() < audio.min() < video.max() < audio.max()
            assert bool(
                torch.isin(ids[int(video.min()) : int(audio.max()) + 1], torch.tensor(list(tokens.values()))).all()
            )
        spy.encoder_calls.clear()
        assert isinstance(backend.generate(requests[:1], GenerationSettings(max_new_tokens=3))[0], str)
        assert bool(spy.encoder_calls.get("audio_tower")) is asked  # the video's own track reached the audio tower
        outputs = backend.generate(requests, GenerationSettings(max_new_tokens=3))
        assert all(isinstance(o, str) for o in outputs), outputs
    single = [backend.generate([r], GenerationSettings(max_new_tokens=3))[0] for r in requests]
    assert single == outputs  # batched (audio slots across two requests) equals one by one
    with pytest.raises(InputError, match="audio_in_video"):
        HFBackend(str(family_dirs["qwen3_vl"]), audio_in_video=True, **args)
