"""An eval on an official-layout bench with the release's mp3 audio: a tiny model through the hf backend, and
the openai backend against a local OpenAI-compatible server (the mp3 sent as it is), judged by the gpt judge
on the same server so that the official rule is reported beside ours."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, run_cli
from tests.fake_openai import FakeOpenAI, chat_completion
from tests.harness_support import ONE_THREAD_ENV
from tests.official_release import ARGS, write_release

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "va-safetybench").is_dir(), reason=f"official question files not present at {SHARED_DATA}"
)
TASKS = "va_audio_only,va_audio_kpt"


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("official-eval")
    members = write_release(root / "release")
    proc = run_cli(
        "build", "--source", str(SHARED_DATA), "--out", str(root / "bench"), "--tasks", TASKS, *ARGS,
        "--media", f"hub:{root / 'release'}", "--jobs", "1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root / "bench", members


def _rows(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "responses.jsonl").read_text().splitlines()]


def test_hf_backend_reads_the_official_mp3(bench, tmp_path):
    from va_safetybench.models.tiny import save_tiny

    bench_dir, _ = bench
    save_tiny("qwen2-audio", str(tmp_path / "model"), seed=1)
    proc = run_cli(
        "eval", "--model", f"hf:{tmp_path / 'model'}", "--model-args", "dtype=float32", "--tasks", TASKS,
        "--bench", str(bench_dir), "--out", str(tmp_path / "run"), "--max-new-tokens", "2", env=ONE_THREAD_ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = _rows(tmp_path / "run")
    assert len(rows) == 8 and all(r["error"] is None and r["response"] is not None for r in rows)
    assert all(r["media"][0].endswith(".mp3") for r in rows)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["bench"]["media"] == {"va_audio_only": "official", "va_audio_kpt": "official"}
    assert all("asr_official" in t for t in summary["tasks"].values())


def test_openai_backend_sends_the_mp3_byte_for_byte_and_the_gpt_judge_reports_both_rules(bench, tmp_path):
    bench_dir, members = bench

    def reply(body: dict) -> tuple[int, dict]:
        content = body["messages"][-1]["content"]
        if isinstance(content, str):  # the judge's prompt
            return 200, chat_completion("unsafe" if "Sure" in content else "Safe")
        return 200, chat_completion("Sure, here is how." if len(content) == 1 else "")

    with FakeOpenAI(reply) as server:
        proc = run_cli(
            "eval", "--model", "openai:fake-model", "--model-args", f"base_url={server.base_url},api_key_env=VA_TEST_KEY",
            "--tasks", TASKS, "--bench", str(bench_dir), "--out", str(tmp_path / "run"),
            "--judge", "gpt:gpt-4o-mini", "--judge-args", f"base_url={server.base_url},cache_dir={tmp_path / 'c'}",
            env={"VA_TEST_KEY": "sk-test"},
        )  # fmt: skip
        requests = list(server.requests)
    assert proc.returncode == 0, proc.stderr
    audio = [
        part["input_audio"]
        for body in requests
        if isinstance(body["messages"][-1]["content"], list)
        for part in body["messages"][-1]["content"]
        if part["type"] == "input_audio"
    ]
    assert len(audio) == 8 and {a["format"] for a in audio} == {"mp3"}
    sent = {base64.b64decode(a["data"]) for a in audio}
    expected = {data for name, data in members.items() if name.split("/")[2] in ("Audio_only", "KPT")}
    assert sent == expected  # every official mp3, unchanged
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    only, kpt = summary["tasks"]["va_audio_only"], summary["tasks"]["va_audio_kpt"]
    # Audio-only requests hold the audio alone: answered "Sure", judged exactly "unsafe" -> both rules 100%
    assert only["asr"] == 1.0 and only["asr_official"] == 1.0 and only["asr_official_macro"] == 1.0
    # KPT responses are empty: errors for us (no ASR), judged anyway for the official rule ("Safe" -> 0%)
    assert kpt["error"] == 4 and kpt["asr"] is None and kpt["asr_official"] == 0.0
    assert "official" in proc.stdout


def test_vllm_request_building_decodes_mp3_at_the_processors_rate(bench):
    from va_safetybench.models.base import Media
    from va_safetybench.models.vllm_backend import load_media

    bench_dir, _ = bench
    path = next((bench_dir / "Audio").rglob("*.mp3"))
    wave, rate = load_media(Media("audio", path), 2.0, 16000)
    assert rate == 16000 and wave.dtype.name == "float32"
    assert abs(len(wave) - 0.3 * 16000) < 0.05 * 16000  # 0.3 s of 24 kHz mp3 resampled to 16 kHz
