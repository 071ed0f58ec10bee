"""`openai:` backend: any OpenAI-compatible chat endpoint (OpenAI, a vLLM or SGLang server, a gateway).

Images go as base64 data URLs, a video as `video_frames` uniformly sampled JPEG frames (in order, before
the prompt), audio as an `input_audio` part (wav or mp3 as it is); an Audio-only request sends the audio alone. The
message content is built by `prepare` (in the harness's decode workers); `concurrency` requests stay in flight and
each reply is handed on as it arrives. Requests are retried with exponential backoff and full jitter on 429,
408/409, 5xx, connection errors and timeouts. `timeout` bounds each whole request (not each socket read) and
`max_reply_bytes` its reply (netlimits.py); every reply is checked before its text is used (chat_replies.py),
so a malformed one is an error for its item while the rest of the batch is kept. The API key is read from the
environment variable named by `api_key_env` and never appears in logs, results or error messages.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import random
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from va_safetybench.chat_replies import MalformedReply, chat_text
from va_safetybench.endpoints import api_key, check_base_url, effective_endpoint, openai_client
from va_safetybench.errors import InputError
from va_safetybench.models.base import (
    GenerationError,
    GenerationRequest,
    GenerationResult,
    GenerationSettings,
    JobFeed,
    Media,
    ModelBackend,
    ModelInfo,
)
from va_safetybench.netlimits import DEFAULT_DEADLINE, DEFAULT_MAX_REPLY_BYTES, ReplyTooLarge

log = logging.getLogger(__name__)

DEFAULT_VIDEO_FRAMES = 8
AUDIO_RATE = 16000
_IMAGE_MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
_MAX_ERROR_CHARS = 200
_FEED_POLL_S = 0.005  # with free slots and nothing decoded yet, how often the stream looks at the feed again


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt k waits uniform(0, min(cap, base * 2**k)) seconds."""

    max_retries: int = 5
    base: float = 1.0
    cap: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap, self.base * 2**attempt))


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _image_part(url: str) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def image_parts(path: Path) -> list[dict]:
    """The file's own bytes when its type is one every endpoint accepts; otherwise re-encoded as PNG."""
    mime = _IMAGE_MIME.get(path.suffix.lower())
    if mime is not None:
        return [_image_part(_data_url(path.read_bytes(), mime))]
    from PIL import Image

    buf = io.BytesIO()
    with Image.open(path) as im:
        im.convert("RGB").save(buf, format="PNG")
    return [_image_part(_data_url(buf.getvalue(), "image/png"))]


def sample_frames(path: Path, count: int) -> list:
    """`count` RGB frames (H, W, 3 uint8) at indices linspace(0, total - 1, count).round(), the index rule
    of media_loading.load_video, which samples by rate (fps) rather than by count; sampled while decoding."""
    from va_safetybench.models.media_loading import decode_frames

    def pick(total: int, rate: float) -> list[int]:
        last = total - 1
        return [round(i * last / (count - 1)) if count > 1 else last // 2 for i in range(count)]

    return decode_frames(path, pick)[0]


def video_parts(path: Path, frames: int) -> list[dict]:
    """`frames` uniformly sampled frames as JPEG data URLs, in playback order."""
    from PIL import Image

    parts = []
    for frame in sample_frames(path, frames):
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=90)
        parts.append(_image_part(_data_url(buf.getvalue(), "image/jpeg")))
    return parts


INPUT_AUDIO_FORMATS = {".wav": "wav", ".mp3": "mp3"}  # the containers the API's `input_audio` takes as they are


def audio_parts(path: Path) -> list[dict]:
    """A wav or mp3 file (the official release's audio is mp3) is sent byte for byte, its `format` from the
    container; anything else (flac, ogg) is decoded to 16 kHz mono (the rate audio LLMs take) and re-encoded
    as 16-bit wav."""
    fmt = INPUT_AUDIO_FORMATS.get(path.suffix.lower())
    if fmt:
        data = path.read_bytes()
    else:
        import soundfile as sf

        from va_safetybench.models.media_loading import load_audio

        buf = io.BytesIO()
        sf.write(buf, load_audio(path, AUDIO_RATE), AUDIO_RATE, format="WAV", subtype="PCM_16")
        data, fmt = buf.getvalue(), "wav"
    return [{"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode("ascii"), "format": fmt}}]


def media_parts(media: Media, video_frames: int) -> list[dict]:
    if media.kind == "image":
        return image_parts(media.path)
    if media.kind == "video":
        return video_parts(media.path, video_frames)
    return audio_parts(media.path)


def build_content(request: GenerationRequest, video_frames: int = DEFAULT_VIDEO_FRAMES) -> str | list[dict]:
    """The user message content: a plain string for text-only requests (every endpoint accepts it),
    else the media parts in request order followed by the prompt (omitted when the prompt is None)."""
    if not request.media:
        return request.prompt or ""
    parts = [part for media in request.media for part in media_parts(media, video_frames)]
    if request.prompt is not None:
        parts.append({"type": "text", "text": request.prompt})
    return parts


class _EventLoopThread:
    """An asyncio event loop running on a thread of its own, so that a synchronous caller (or one inside its own
    running loop, such as a notebook) can keep coroutines in flight and collect them as they finish."""

    def __enter__(self) -> _EventLoopThread:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="va-bench-openai", daemon=True)
        self._thread.start()
        return self

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _retryable_status(status: int) -> bool:
    return status in (408, 409, 429) or status >= 500


def _retry_after(exc: Exception, cap: float) -> float | None:
    """The server's Retry-After (seconds form) when it sent one, capped."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(cap, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def _as_int(key: str, value: Any, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InputError(f"model arg {key}={value!r}: expected an integer") from None
    if number < minimum:
        raise InputError(f"model arg {key}={value!r}: must be at least {minimum}")
    return number


def _as_float(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"model arg {key}={value!r}: expected a number") from None
    if number < 0:
        raise InputError(f"model arg {key}={value!r}: must not be negative")
    return number


class OpenAIBackend(ModelBackend):
    def __init__(
        self,
        name: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int | str = 32,
        max_retries: int | str = 5,
        timeout: float | str = DEFAULT_DEADLINE,
        max_reply_bytes: int | str = DEFAULT_MAX_REPLY_BYTES,
        video_frames: int | str = DEFAULT_VIDEO_FRAMES,
        retry_base: float | str = 1.0,
        retry_cap: float | str = 30.0,
        max_tokens_param: str = "max_tokens",
    ) -> None:
        if max_tokens_param not in ("max_tokens", "max_completion_tokens"):
            raise InputError(
                f"model arg max_tokens_param={max_tokens_param!r}: expected max_tokens or max_completion_tokens"
            )
        self.base_url = check_base_url(base_url, "model arg base_url")  # a bad URL fails now, not once per request
        self.api_key_env = api_key_env
        self._api_key = api_key(self.base_url, api_key_env, "openai backend")  # the key rule: endpoints.py
        self.concurrency = _as_int("concurrency", concurrency, 1)
        self.timeout = _as_float("timeout", timeout)
        if not self.timeout:
            raise InputError(f"model arg timeout={timeout!r}: must be more than 0 seconds")
        self.max_reply_bytes = _as_int("max_reply_bytes", max_reply_bytes, 1)
        self.video_frames = _as_int("video_frames", video_frames, 1)
        self.retry = RetryPolicy(
            _as_int("max_retries", max_retries, 0),
            _as_float("retry_base", retry_base),
            _as_float("retry_cap", retry_cap),
        )
        self.max_tokens_param = max_tokens_param
        self.info = ModelInfo(
            backend="openai",
            name=name,
            modalities=frozenset({"image", "video", "audio"}),
            metadata={"base_url": effective_endpoint(self.base_url), "video_frames": self.video_frames},
        )

    def prepare(self, request: GenerationRequest) -> str | list[dict]:
        return build_content(request, self.video_frames)

    def stream(self, feed: JobFeed) -> Iterator[list[tuple[int, GenerationResult]]]:
        """Keeps `concurrency` requests in flight (on an event loop of its own thread) for as long as the feed
        has prepared jobs, and yields each reply as it arrives: no barrier between requests."""
        rng = random.Random(0)  # retry jitter
        in_flight: dict[Future, int] = {}
        with _EventLoopThread() as loop:
            client = loop.submit(self._client()).result()
            try:
                while True:
                    while len(in_flight) < self.concurrency:
                        job = feed.next(wait=not in_flight)  # with requests in flight, never wait for a decoder
                        if job is None:
                            break
                        in_flight[loop.submit(self._generate_one(client, rng, job.work, job.settings))] = job.id
                    if not in_flight:
                        return
                    room = len(in_flight) < self.concurrency and not feed.exhausted
                    done, _ = wait_futures(
                        in_flight, timeout=_FEED_POLL_S if room else None, return_when=FIRST_COMPLETED
                    )
                    if done:
                        yield [(in_flight.pop(future), self._kept(future)) for future in done]
            finally:
                for future in in_flight:
                    future.cancel()
                loop.submit(client.close()).result()

    async def _client(self) -> Any:
        """Made on the stream's own event loop, which its connections then belong to."""
        return openai_client(
            self.base_url,
            self.api_key_env,
            "openai backend",
            asynchronous=True,
            timeout=self.timeout,
            max_reply_bytes=self.max_reply_bytes,
        )

    def _kept(self, future: Future) -> GenerationResult:
        """A request's result; anything it raised is an error for that item alone (the others are kept)."""
        try:
            return future.result()
        except Exception as exc:  # KeyboardInterrupt and cancellation are not an item's failure: they propagate
            log.warning("openai %s: unexpected %s", self.info.name, type(exc).__name__)
            return GenerationError(self._scrub(f"unexpected failure: {type(exc).__name__}: {exc}"))

    def _sampling(self, settings: GenerationSettings) -> dict:
        params: dict = {
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "seed": settings.seed,
            self.max_tokens_param: settings.max_new_tokens,
        }
        if settings.stop:
            params["stop"] = list(settings.stop)
        return params

    async def _generate_one(
        self, client: Any, rng: random.Random, content: str | list[dict], settings: GenerationSettings
    ) -> GenerationResult:
        import openai

        messages = [{"role": "user", "content": content}]
        error: openai.OpenAIError  # the last failure, whichever kind it was
        for attempt in range(self.retry.max_retries + 1):
            try:
                raw = await client.chat.completions.with_raw_response.create(
                    model=self.info.name, messages=messages, timeout=self.timeout, **self._sampling(settings)
                )
                return chat_text(raw.content) or ""  # checked: a malformed reply is this item's error
            except (MalformedReply, ReplyTooLarge) as exc:
                return GenerationError(self._scrub(f"malformed reply: {exc}"))
            except openai.APIStatusError as exc:
                error, retryable, wait = exc, _retryable_status(exc.status_code), _retry_after(exc, self.retry.cap)
            except openai.APIConnectionError as exc:  # includes APITimeoutError
                error, retryable, wait = exc, True, None
            except openai.OpenAIError as exc:
                error, retryable, wait = exc, False, None
            if not retryable or attempt == self.retry.max_retries:
                return GenerationError(self._describe(error, attempt + 1))
            delay = wait if wait is not None else self.retry.delay(attempt, rng)
            log.warning(
                "openai %s: %s; retry %d/%d in %.2fs",
                self.info.name,
                self._scrub(self._short(error)),
                attempt + 1,
                self.retry.max_retries,
                delay,
            )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the loop returns on its last attempt")

    def _short(self, exc: Exception) -> str:
        """Status and the server's own error message, never the request body (which holds the prompt)."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return f"timed out after {self.timeout:g}s (the whole request: model arg timeout)"
        if isinstance(exc, openai.APIStatusError):
            body = exc.body
            detail = body.get("message") if isinstance(body, dict) else None
            return f"HTTP {exc.status_code}" + (f": {detail}" if detail else "")
        return type(exc).__name__

    def _describe(self, exc: Exception, attempts: int) -> str:
        return self._scrub(f"{self._short(exc)} (after {attempts} attempt{'s' if attempts > 1 else ''})")

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***")[:_MAX_ERROR_CHARS]
