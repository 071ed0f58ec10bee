"""Video media: TYPO, DM (hub zip, diffusers) and DM+TYPO, built through the CLI and decoded by real readers."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from va_safetybench.errors import InputError
from va_safetybench.items import Item
from va_safetybench.materialize.runner import build
from va_safetybench.materialize.settings import BuildSettings
from va_safetybench.media.dm_video import HOLD_SECONDS
from va_safetybench.media.fonts import resolve_font
from va_safetybench.media.source_spec import parse_dm
from va_safetybench.media.text_frames import phrase_frame, word_frame
from va_safetybench.media.typo_video import FRAMES_PER_WORD, TypoVideoRenderer
from va_safetybench.media.video_io import FPS, HEIGHT, WIDTH, probe, read_frames, write_video

from .conftest import build_demo, run_cli
from .fake_openai import FakeOpenAI, chat_completion

FONT = resolve_font(None)


def _manifest(bench: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (bench / "manifests" / f"{task}.jsonl").read_text().splitlines()]


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def video_bench(tmp_path_factory) -> Path:
    """The demo set's va_video group, DM off: TYPO built, DM and DM+TYPO unavailable."""
    bench = tmp_path_factory.mktemp("video") / "bench"
    proc = build_demo(
        bench,
        "--tasks",
        "va_video",
        "--limit",
        "1",
        "--dm",
        "none",
        "--jobs",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    return bench


def test_typo_videos_show_each_word_for_one_second_in_order(video_bench: Path) -> None:
    entries = _manifest(video_bench, "va_video_typo")
    assert len(entries) == 8 and all(e["status"] == "ok" for e in entries)
    for entry in entries:
        frames, fps = read_frames(video_bench / entry["media"])
        words = entry["key_phrase"].split()
        assert fps == FPS and frames.shape == (len(words) * FRAMES_PER_WORD, HEIGHT, WIDTH, 3)
        expected = [word_frame(w, FONT) for w in words]
        for k, word in enumerate(words):
            segment = frames[k * FRAMES_PER_WORD : (k + 1) * FRAMES_PER_WORD]
            for frame in segment[[0, FRAMES_PER_WORD // 2, -1]]:
                own = _mad(frame, expected[k])
                assert own < 2.0, (entry["id"], k, own)
                others = [_mad(frame, e) for j, e in enumerate(expected) if words[j] != word]
                assert all(own < other for other in others)  # the right word, in the right place


def test_typo_videos_decode_with_opencv(video_bench: Path) -> None:
    import cv2

    for entry in _manifest(video_bench, "va_video_typo")[:1]:
        path = str(video_bench / entry["media"])
        ours, _ = read_frames(Path(path))
        cap = cv2.VideoCapture(path)
        assert cap.isOpened()
        assert cap.get(cv2.CAP_PROP_FPS) == FPS
        assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (WIDTH, HEIGHT)
        decoded = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            decoded.append(bgr[..., ::-1])
        cap.release()
        assert len(decoded) == len(ours)
        assert _mad(np.stack(decoded), ours) < 2.0


def test_typo_videos_decode_with_torchcodec(video_bench: Path) -> None:
    # torchvision 0.29 has no video reader (read_video/VideoReader were removed in favour of TorchCodec)
    import torchvision.io

    assert not hasattr(torchvision.io, "read_video")
    try:
        from torchcodec.decoders import VideoDecoder

        entry = _manifest(video_bench, "va_video_typo")[0]
        decoder = VideoDecoder(str(video_bench / entry["media"]))
    except (ImportError, OSError, RuntimeError) as exc:
        pytest.skip(f"TorchCodec, torchvision's video decoder, is not usable here ({type(exc).__name__})")
    frames = decoder[:]  # N x 3 x H x W uint8
    ours, _ = read_frames(video_bench / entry["media"])
    assert tuple(frames.shape) == (len(ours), 3, HEIGHT, WIDTH)
    assert _mad(frames.permute(0, 2, 3, 1).numpy(), ours) < 2.0


def test_dm_none_marks_dm_tasks_unavailable(video_bench: Path) -> None:
    for task in ("va_video_dm", "va_video_dm_typo"):
        entries = _manifest(video_bench, task)
        assert entries and all(e["status"] == "unavailable" and e["sha256"] is None for e in entries)
        assert "--dm hub" in entries[0]["reason"] and "--dm diffusers:MODEL" in entries[0]["reason"]
    assert all(e["status"] == "ok" for e in _manifest(video_bench, "va_video_text_only"))


def test_check_catches_a_truncated_mp4(video_bench: Path, tmp_path: Path) -> None:
    assert run_cli("build", "--check", "--out", str(video_bench)).returncode == 0
    entry = _manifest(video_bench, "va_video_typo")[1]
    path = video_bench / entry["media"]
    data = path.read_bytes()
    copy = tmp_path / "cut.mp4"
    copy.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError):  # the decoder itself notices, not only the hash
        TypoVideoRenderer(BuildSettings()).verify(copy)
    path.write_bytes(copy.read_bytes())
    try:
        proc = run_cli("build", "--check", "--out", str(video_bench))
        assert proc.returncode == 1
        assert f"va_video_typo {entry['scenario']}/{entry['id']}" in proc.stderr
    finally:
        path.write_bytes(data)


def test_missing_font_is_a_one_line_error(tmp_path: Path) -> None:
    proc = build_demo(
        tmp_path / "b",
        "--tasks",
        "va_video_typo",
        "--limit",
        "1",
        "--font",
        str(tmp_path / "nope.ttf"),
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "--font" in proc.stderr and "nope.ttf" in proc.stderr


def test_non_ascii_phrase_renders_if_the_font_has_the_glyphs(tmp_path: Path) -> None:
    item = Item("va", "1-IllegalActivitiy", "7", "q", "café naïve", "activity", {"va_video_typo": "p"})
    report = build([item], ["va_video_typo"], tmp_path, BuildSettings(), jobs=1)
    assert report.rendered == 1 and not report.failed
    frames, _ = read_frames(tmp_path / "Video/1-IllegalActivitiy/TYPO/7.mp4")
    assert _mad(frames[FRAMES_PER_WORD], word_frame("naïve", FONT)) < 2.0
    bad = Item("va", "1-IllegalActivitiy", "8", "q", "make 爆弾", "activity", {"va_video_typo": "p"})
    with pytest.raises(InputError, match=r"item va/1-IllegalActivitiy/8: .*U\+7206"):
        build([bad], ["va_video_typo"], tmp_path / "b2", BuildSettings(), jobs=1)


# ---- DM from the official archive ------------------------------------------------------------
def _tiny_dm_zip(path: Path, scenarios: list[str]) -> dict[str, bytes]:
    """A video.zip in the official layout (under a leading folder): 1 s clips at 12 fps, 320x192."""
    members = {}
    with zipfile.ZipFile(path, "w") as zf:
        for n, scenario in enumerate(scenarios):
            clip = path.parent / f"{n}.mp4"
            write_video([np.full((192, 320, 3), 100 + 40 * n + 5 * k, np.uint8) for k in range(12)], clip, fps=12)
            name = f"VA-SafetyBench/Video/{scenario}/DM/0.mp4"
            zf.write(clip, name)
            members[scenario] = clip.read_bytes()
        zf.writestr(f"VA-SafetyBench/Video/{scenarios[0]}/TYPO/0.mp4", b"not ours to take")
    return members


def test_dm_hub_zip_and_dm_typo(tmp_path: Path) -> None:
    archive = tmp_path / "video.zip"
    members = _tiny_dm_zip(archive, ["1-IllegalActivitiy", "2-HateSpeech"])
    bench = tmp_path / "bench"

    def build_dm(scenarios: str, jobs: str):
        return run_cli(
            "build", "--source", "demo", "--out", str(bench), "--tasks", "va_video_dm,va_video_dm_typo",
            "--scenarios", scenarios, "--limit", "1", "--dm", f"hub:{archive}", "--jobs", jobs,
        )  # fmt: skip

    missing = build_dm("1,2,3", "2")  # scenario 3 is not in the archive: an error before any copy, never a render
    assert missing.returncode == 2 and "Video/3-MalwareGeneration/DM/0.mp4" in missing.stderr
    assert "video.zip" in missing.stderr and not (bench / "Video").exists()
    proc = build_dm("1,2", "2")
    assert proc.returncode == 0, proc.stderr
    dm = {e["scenario"]: e for e in _manifest(bench, "va_video_dm")}
    zip_sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    for scenario, data in members.items():
        entry = dm[scenario]
        assert entry["status"] == "ok" and (bench / entry["media"]).read_bytes() == data
        assert entry["origin"] == "official" and entry["archive_sha256"] == zip_sha
        assert entry["member"] == f"VA-SafetyBench/Video/{scenario}/DM/0.mp4"

    for entry in _manifest(bench, "va_video_dm_typo"):
        assert entry["origin"] == "rendered"  # made here from the official DM video
        frames, fps = read_frames(bench / entry["media"])
        info = probe(bench / entry["media"])
        assert (info.width, info.height, fps) == (WIDTH, HEIGHT, FPS)
        assert len(frames) == FPS * 1 + HOLD_SECONDS * FPS  # 1 s of DM re-timed to 24 fps, then 3 s
        tail = phrase_frame(entry["key_phrase"], FONT)
        assert all(_mad(f, tail) < 2.0 for f in frames[-HOLD_SECONDS * FPS :])
        assert _mad(frames[0], tail) > 20  # the DM part comes first

    again = build_dm("1,2", "1")
    assert again.returncode == 0 and "0 rendered, 4 up to date" in again.stdout


def test_dm_hub_offline_names_the_local_archive_option(tmp_path: Path) -> None:
    proc = build_demo(
        tmp_path / "b",
        "--tasks",
        "va_video_dm",
        "--limit",
        "1",
        "--dm",
        "hub",
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    assert proc.returncode == 2 and "--dm hub:PATH" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# ---- DM from a diffusers text-to-video pipeline ---------------------------------------------------
def _tiny_text_to_video_pipeline(path: Path) -> None:
    """A randomly initialised TextToVideoSDPipeline small enough to run on a CPU in a second."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet3DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=8,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8,),
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",),
        norm_num_groups=4,
        sample_size=32,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=8,
            intermediate_size=16,
            num_attention_heads=2,
            num_hidden_layers=1,
            vocab_size=64,
            max_position_embeddings=32,
            projection_dim=8,
        )
    )
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for token in [*letters, *(c + "</w>" for c in letters)]:
        vocab[token] = len(vocab)
    (path / "tok").mkdir(parents=True)
    (path / "tok/vocab.json").write_text(json.dumps(vocab))
    (path / "tok/merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(path / "tok/vocab.json"), str(path / "tok/merges.txt"), model_max_length=32)
    pipe = TextToVideoSDPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(beta_schedule="linear", clip_sample=False),
    )
    pipe.save_pretrained(path / "model")


def test_dm_diffusers_pipeline_with_scene_llm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from va_safetybench.commands.build import select_items
    from va_safetybench.sources import load_items

    _tiny_text_to_video_pipeline(tmp_path)  # in this process: diffusers is imported once, not twice
    bench = tmp_path / "bench"
    items = select_items(load_items("demo", ("va",)), ["1"], 1)
    settings = BuildSettings(
        dm=parse_dm(f"diffusers:{tmp_path / 'model'},frames=6,steps=2,height=16,width=16,guidance=1"),
        scene_llm="fake-scenes",
    )
    scene = "a quiet street at night with a parked car"
    with FakeOpenAI(lambda body: (200, chat_completion(scene))) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        report = build(items, ["va_video_dm", "va_video_dm_typo"], bench, settings, jobs=1)
        assert report.rendered == 2 and not report.failed, report.failed
        (entry,) = _manifest(bench, "va_video_dm")
        assert len(llm.requests) == 1 and llm.requests[0]["model"] == "fake-scenes"
        assert llm.requests[0]["messages"][-1]["content"] == entry["key_phrase"]  # only the key phrase
    assert entry["status"] == "ok"
    frames, fps = read_frames(bench / entry["media"])
    assert frames.shape == (6, HEIGHT, WIDTH, 3) and fps == FPS
    assert frames[:, :, WIDTH // 2].std() > 1  # real pipeline output in the letterboxed centre
    assert frames[:, :, :100].max() == 0  # black bars beside the square 16x16 output
    assert scene in (bench / ".build/scene_prompts.json").read_text()
    (typo,) = _manifest(bench, "va_video_dm_typo")
    assert probe(bench / typo["media"]).frames == 6 + HOLD_SECONDS * FPS
    # a rebuild reuses the cached scene prompt (the server is gone) and skips both files
    again = build(items, ["va_video_dm", "va_video_dm_typo"], bench, settings, jobs=1)
    assert again.skipped == 2 and again.rendered == 0
