"""Every network read is bounded twice: a total deadline per request and a cap on the bytes of its reply.

An HTTP client's `timeout` bounds each socket read, not the request: a server that sends one byte a
second keeps a request alive for as long as it likes, and one that sends 100 MiB is read to the end and
stored. The clients made here (`async_http_client`, `http_client`; the openai client takes them as its
`http_client`) end a request when its deadline passes, whatever stage it is in (connecting, waiting,
reading headers or body, following redirects), and stop reading a reply at `max_bytes` (counted after
decompression: the server is asked for none, and a gzip or deflate reply sent anyway is counted as it
inflates). The errors are `DeadlineExceeded` (an httpx timeout, so the openai client reports a timeout)
and `ReplyTooLarge`, never a hang or a swollen process.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2

from .errors import InputError

DEFAULT_DEADLINE = 120.0  # seconds: a chat completion of a few hundred tokens takes a few
DEFAULT_MAX_REPLY_BYTES = 1 << 20  # 1 MiB: a chat completion of 300 tokens is a few KiB of JSON
DOWNLOAD_DEADLINE = 600.0  # the official question files and judge sets: at most a few MiB each
DOWNLOAD_MAX_BYTES = 256 << 20


@dataclass(frozen=True)
class NetLimits:
    deadline: float = DEFAULT_DEADLINE  # seconds, from sending a request to the last byte of its reply
    max_bytes: int = DEFAULT_MAX_REPLY_BYTES  # bytes of one reply's body, after decompression

    def __post_init__(self) -> None:
        if not self.deadline > 0 or self.max_bytes < 1:
            raise ValueError(f"network limits must be positive, got {self}")


class DeadlineExceeded(httpx2.TimeoutException):
    """The whole request took longer than its deadline."""


class ReplyTooLarge(Exception):
    """The reply's body is larger than the cap (deliberately not an httpx error: it is never worth a retry)."""


def limit_error(exc: BaseException | None) -> BaseException | None:
    """The DeadlineExceeded or ReplyTooLarge behind `exc` (itself, or a cause the openai client wrapped), if any."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, (DeadlineExceeded, ReplyTooLarge)):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


class _Counter:
    """Counts a reply's bytes as they arrive (inflating a compressed reply to count what it decodes to)."""

    def __init__(self, response: httpx2.Response, limits: NetLimits, deadline: float | None) -> None:
        self.limits, self.deadline, self.total = limits, deadline, 0
        self.url = str(response.request.url.copy_with(query=None)) if response.request else "the server"
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._inflate: Any = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
        elif encoding in ("", "identity"):
            self._inflate = None
        else:
            raise ReplyTooLarge(f"reply from {self.url} is {encoding}-encoded, which cannot be checked in size")
        declared = response.headers.get("content-length", "")
        if self._inflate is None and declared.isdigit() and int(declared) > limits.max_bytes:
            raise self._too_large(int(declared))

    def add(self, chunk: bytes) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlineExceeded(f"no reply within {self.limits.deadline:g} s")
        if self._inflate is None:
            self.total += len(chunk)
        else:
            data = chunk
            while data and self.total <= self.limits.max_bytes:  # bounded steps: a bomb never inflates whole
                self.total += len(self._inflate.decompress(data, self.limits.max_bytes + 1))
                data = self._inflate.unconsumed_tail
        if self.total > self.limits.max_bytes:
            raise self._too_large(self.total)

    def _too_large(self, size: int) -> ReplyTooLarge:
        return ReplyTooLarge(
            f"reply from {self.url} is over {self.limits.max_bytes:,} bytes ({size:,} read); refused, not stored"
        )


class _CappedAsyncStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, counter: _Counter) -> None:
        self._inner, self._counter = inner, counter

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._counter.add(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedStream(httpx2.SyncByteStream):
    def __init__(self, inner: Any, counter: _Counter) -> None:
        self._inner, self._counter = inner, counter

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._counter.add(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class BoundedAsyncClient(httpx2.AsyncClient):
    """An httpx AsyncClient whose every request ends by its deadline and reads at most `max_bytes` of reply."""

    def __init__(self, limits: NetLimits, **kwargs: Any) -> None:
        self.limits = limits
        super().__init__(**_defaults(limits, kwargs))
        self.event_hooks["response"] = [*self.event_hooks["response"], self._cap]

    async def _cap(self, response: httpx2.Response) -> None:
        response.stream = _CappedAsyncStream(response.stream, _Counter(response, self.limits, None))

    async def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        try:
            return await asyncio.wait_for(super().send(request, **kwargs), self.limits.deadline)
        except asyncio.TimeoutError:  # the builtin TimeoutError from Python 3.11 on
            raise DeadlineExceeded(f"no reply within {self.limits.deadline:g} s", request=request) from None


class BoundedClient(httpx2.Client):
    """The same bounds for a blocking client: the request runs on a helper thread that the caller stops waiting
    for at the deadline (the thread ends at its next read: the reply's reads check the deadline too)."""

    def __init__(self, limits: NetLimits, **kwargs: Any) -> None:
        self.limits = limits
        self._deadlines = threading.local()
        super().__init__(**_defaults(limits, kwargs))
        self.event_hooks["response"] = [*self.event_hooks["response"], self._cap]

    def _cap(self, response: httpx2.Response) -> None:
        deadline = getattr(self._deadlines, "value", None)
        response.stream = _CappedStream(response.stream, _Counter(response, self.limits, deadline))

    def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        outcome: dict[str, Any] = {}
        deadline = time.monotonic() + self.limits.deadline

        def attempt() -> None:
            self._deadlines.value = deadline
            try:
                outcome["response"] = super(BoundedClient, self).send(request, **kwargs)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=attempt, name="bounded-http", daemon=True)
        worker.start()
        worker.join(self.limits.deadline)
        if worker.is_alive():
            raise DeadlineExceeded(f"no reply within {self.limits.deadline:g} s", request=request)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]


def _defaults(limits: NetLimits, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The openai client's own defaults (redirects followed, generous pool), no compression asked for, and no
    single read waiting longer than the whole request may take."""
    kwargs.setdefault("follow_redirects", True)
    kwargs.setdefault("limits", httpx2.Limits(max_connections=1000, max_keepalive_connections=100))
    kwargs.setdefault("timeout", httpx2.Timeout(limits.deadline, connect=min(limits.deadline, 10.0)))
    kwargs["headers"] = {"Accept-Encoding": "identity", **dict(kwargs.get("headers") or {})}
    return kwargs


class DownloadFailed(InputError):
    """A download that did not complete: the message names the URL, says why (status, error, limit; never a header)
    and what to do without the network."""


def download(
    url: str, deadline: float = DOWNLOAD_DEADLINE, max_bytes: int = DOWNLOAD_MAX_BYTES, offline: str = ""
) -> bytes:
    """The body of a GET of `url` (redirects followed) within `deadline` seconds and `max_bytes`; DownloadFailed
    for a 4xx/5xx reply, a network error or a limit exceeded, ending with the hint `offline` when given."""
    try:
        with BoundedClient(NetLimits(deadline, max_bytes)) as client:
            response = client.get(url)
            response.raise_for_status()
            return response.content
    except httpx2.HTTPStatusError as exc:
        why = f"HTTP {exc.response.status_code}"
    except (httpx2.HTTPError, ReplyTooLarge, OSError) as exc:
        why = str(exc) or type(exc).__name__
    raise DownloadFailed(f"cannot download {url} ({why})" + (f"; {offline}" if offline else ""))
