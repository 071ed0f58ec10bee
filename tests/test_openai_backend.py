"""OpenAIBackend through the real `openai` client against a local FakeOpenAI server (127.0.0.1)."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import random
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tests.fake_openai import FakeOpenAI, chat_completion
from tests.media_fixtures import write_audio, write_png, write_video
from va_safetybench.errors import InputError
from va_safetybench.models.base import GenerationError, GenerationRequest, GenerationSettings, Media
from va_safetybench.models.openai_backend import OpenAIBackend

KEY = "sk-test-VERY-SECRET-4f2a9c"
SETTINGS = GenerationSettings(max_new_tokens=77)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VA_TEST_OPENAI_KEY", KEY)


def make_backend(server: FakeOpenAI, **args: object) -> OpenAIBackend:
    return OpenAIBackend(
        "fake-model",
        base_url=server.base_url,
        api_key_env="VA_TEST_OPENAI_KEY",
        retry_base=0.01,
        retry_cap=0.05,
        **args,
    )


def decode_data_url(url: str, mime: str) -> bytes:
    prefix = f"data:{mime};base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url[len(prefix) :])


def user_content(body: dict) -> object:
    (message,) = body["messages"]
    assert message["role"] == "user"
    return message["content"]


def text_of(body: dict) -> str:
    content = user_content(body)
    return content if isinstance(content, str) else next(p["text"] for p in content if p["type"] == "text")


def test_image_request_structure_and_sampling(tmp_path):
    png = write_png(tmp_path / "q.png")
    with FakeOpenAI() as server:
        out = make_backend(server).generate([GenerationRequest("Describe it.", (Media("image", png),))], SETTINGS)
    assert out == ["I cannot help with that."]
    (body,) = server.requests
    assert body["model"] == "fake-model"
    assert body["temperature"] == 0.0 and body["max_tokens"] == 77
    image_part, text_part = user_content(body)
    assert text_part == {"type": "text", "text": "Describe it."}
    assert image_part["type"] == "image_url"
    assert decode_data_url(image_part["image_url"]["url"], "image/png") == png.read_bytes()
    headers = {k.lower(): v for k, v in server.headers[0].items()}
    assert headers["authorization"] == f"Bearer {KEY}"


def test_text_only_request_sends_a_plain_string():
    with FakeOpenAI() as server:
        make_backend(server).generate([GenerationRequest("Just text.")], SETTINGS)
    assert user_content(server.requests[0]) == "Just text."


@pytest.mark.parametrize("frames", [8, 3])
def test_video_is_sent_as_sampled_frames_in_order(tmp_path, frames):
    video = write_video(tmp_path / "v.mp4")
    args = {} if frames == 8 else {"video_frames": frames}  # 8 is the default
    with FakeOpenAI() as server:
        make_backend(server, **args).generate([GenerationRequest("What happens?", (Media("video", video),))], SETTINGS)
    *frame_parts, text_part = user_content(server.requests[0])
    assert text_part == {"type": "text", "text": "What happens?"}
    assert len(frame_parts) == frames and all(p["type"] == "image_url" for p in frame_parts)
    levels = [
        np.asarray(Image.open(io.BytesIO(decode_data_url(p["image_url"]["url"], "image/jpeg")))).mean()
        for p in frame_parts
    ]
    assert levels == sorted(levels) and levels[-1] - levels[0] > 100  # spread across the clip, in order


def test_audio_with_prompt_and_audio_only(tmp_path):
    wav = write_audio(tmp_path / "a.wav")
    with FakeOpenAI() as server:
        make_backend(server).generate(
            [
                GenerationRequest("Answer the audio.", (Media("audio", wav),)),
                GenerationRequest(None, (Media("audio", wav),)),
            ],
            SETTINGS,
        )
    # the two requests run concurrently, so they reach the server in either order
    audio_only, with_prompt = sorted((user_content(b) for b in server.requests), key=len)
    assert with_prompt[1] == {"type": "text", "text": "Answer the audio."}
    assert len(audio_only) == 1  # the audio is the whole question
    for content in (with_prompt, audio_only):
        part = content[0]
        assert part["type"] == "input_audio" and part["input_audio"]["format"] == "wav"
        assert base64.b64decode(part["input_audio"]["data"]) == wav.read_bytes()


def test_non_wav_audio_is_reencoded_as_16k_wav(tmp_path):
    flac = write_audio(tmp_path / "a.flac", rate=8000, seconds=0.5, fmt="FLAC")
    with FakeOpenAI() as server:
        make_backend(server).generate([GenerationRequest(None, (Media("audio", flac),))], SETTINGS)
    sent = base64.b64decode(user_content(server.requests[0])[0]["input_audio"]["data"])
    samples, rate = sf.read(io.BytesIO(sent), dtype="float32")
    assert sent[:4] == b"RIFF" and rate == 16000 and len(samples) == 8000
    t = np.arange(8000) / 16000
    assert np.corrcoef(samples[100:-100], np.sin(2 * np.pi * 440 * t)[100:-100])[0, 1] > 0.99  # the same tone


def scripted(*statuses: int):
    """A reply function answering with the given statuses in turn, then 200."""
    queue = list(statuses)

    def reply(body: dict) -> tuple[int, dict]:
        if queue:
            status = queue.pop(0)
            return status, {"error": {"message": f"scripted {status}", "type": "test"}}
        return 200, chat_completion("ok")

    return reply


@pytest.mark.parametrize("statuses", [(429,), (500, 503)])
def test_rate_limit_and_server_errors_are_retried(statuses):
    with FakeOpenAI(reply=scripted(*statuses)) as server:
        out = make_backend(server).generate([GenerationRequest("hi")], SETTINGS)
    assert out == ["ok"]
    assert len(server.requests) == len(statuses) + 1


def test_client_error_is_not_retried_and_exhausted_retries_give_an_error():
    with FakeOpenAI(reply=scripted(400)) as server:
        (out,) = make_backend(server).generate([GenerationRequest("hi")], SETTINGS)
    assert isinstance(out, GenerationError) and "HTTP 400" in out.message and len(server.requests) == 1
    with FakeOpenAI(reply=scripted(500, 500, 500)) as server:
        (out,) = make_backend(server, max_retries=2).generate([GenerationRequest("hi")], SETTINGS)
    assert isinstance(out, GenerationError) and "HTTP 500" in out.message and "3 attempts" in out.message
    assert len(server.requests) == 3


def test_timeout_becomes_an_error_while_others_succeed():
    def reply(body: dict) -> tuple[int, dict]:
        if text_of(body) == "slow":
            time.sleep(2.0)
        return 200, chat_completion("fine")

    with FakeOpenAI(reply=reply) as server:
        out = make_backend(server, timeout=0.4, max_retries=1).generate(
            [GenerationRequest("a"), GenerationRequest("slow"), GenerationRequest("b")], SETTINGS
        )
    assert out[0] == out[2] == "fine"
    assert isinstance(out[1], GenerationError) and "timed out" in out[1].message
    assert sum(text_of(b) == "slow" for b in server.requests) == 2  # the timeout was retried once


def test_connection_refused_becomes_an_error():
    server = FakeOpenAI()  # never started: nothing listens on its port
    server._httpd.server_close()
    (out,) = make_backend(server, max_retries=1).generate([GenerationRequest("hi")], SETTINGS)
    assert isinstance(out, GenerationError) and "APIConnectionError" in out.message


def test_order_preserved_and_concurrency_bounded():
    lock, in_flight, peak = threading.Lock(), [0], [0]

    def reply(body: dict) -> tuple[int, dict]:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(random.uniform(0.0, 0.05))  # finish out of order
        with lock:
            in_flight[0] -= 1
        return 200, chat_completion(f"echo {text_of(body)}")

    prompts = [f"p{i}" for i in range(40)]
    with FakeOpenAI(reply=reply) as server:
        out = make_backend(server, concurrency=6).generate([GenerationRequest(p) for p in prompts], SETTINGS)
    assert out == [f"echo {p}" for p in prompts]
    assert 2 <= peak[0] <= 6


def test_unreadable_media_fails_only_its_request(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with FakeOpenAI() as server:
        out = make_backend(server).generate(
            [GenerationRequest("x", (Media("video", broken),)), GenerationRequest("y")], SETTINGS
        )
    assert isinstance(out[0], GenerationError) and "unreadable media" in out[0].message
    assert out[1] == "I cannot help with that." and len(server.requests) == 1


def test_api_key_never_in_results_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    busy = scripted(429)

    def reply(body: dict) -> tuple[int, dict]:  # servers do echo the key back in auth errors
        if text_of(body) == "auth":
            return 401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "auth"}}
        return busy(body) if text_of(body) == "busy" else (200, chat_completion("ok"))

    with FakeOpenAI(reply=reply) as server:
        backend = make_backend(server, max_retries=1)
        out = backend.generate(
            [GenerationRequest("auth"), GenerationRequest("busy"), GenerationRequest("ok")], SETTINGS
        )
    assert isinstance(out[0], GenerationError) and "HTTP 401" in out[0].message
    assert out[1:] == ["ok", "ok"]
    assert "retry 1/1" in caplog.text  # the retry was logged ...
    for text in (caplog.text, repr(out), repr(backend.info), repr(vars(backend.retry))):
        assert KEY not in text  # ... and the key never was


def test_generate_inside_a_running_event_loop():
    async def caller() -> list:
        return backend.generate([GenerationRequest("from async")], SETTINGS)

    with FakeOpenAI() as server:
        backend = make_backend(server)
        assert asyncio.run(caller()) == ["I cannot help with that."]


def test_missing_key_and_bad_args_are_input_errors(monkeypatch):
    monkeypatch.delenv("VA_TEST_OPENAI_KEY")
    with pytest.raises(InputError, match="VA_TEST_OPENAI_KEY"):
        OpenAIBackend("m", api_key_env="VA_TEST_OPENAI_KEY")
    monkeypatch.setenv("VA_TEST_OPENAI_KEY", KEY)
    with pytest.raises(InputError, match="concurrency"):
        OpenAIBackend("m", api_key_env="VA_TEST_OPENAI_KEY", concurrency="many")
    assert OpenAIBackend("m", api_key_env="VA_TEST_OPENAI_KEY", concurrency="4").concurrency == 4
