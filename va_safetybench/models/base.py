"""The interface every model backend implements, independent of lm-eval.

The lm-eval model classes (lm_eval_models.py) adapt lm-eval requests to `GenerationRequest`s;
backends never see lm-eval types, so they can be used and tested on their own.

The stream between the harness and a backend: prepared jobs in, results out as they complete. A backend handed
fixed chunks, waiting for each to finish (the old harness), keeps an endpoint at a fraction of its concurrency
and a vLLM engine at a fraction of its continuous batch, and its media are decoded while the model waits. Here
the CPU work of a request (`ModelBackend.prepare`: media decoded, the backend's input built) runs in a bounded
pool of worker threads ahead of generation, at most `prefetch` requests ahead (the memory bound), and the
backend pulls prepared jobs from a `JobFeed` as fast as it has room for them (`stream`): `openai:` keeps
`concurrency` requests in flight, `vllm:` keeps its engine's queue full, `hf:` forms its forward batches. A
request whose preparation fails becomes a `GenerationError` without reaching the backend.
"""

from __future__ import annotations

import os
import queue
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import VABenchError
from ..fileio import FileFormat

# a checkpoint's va_safetybench.json: written by sea_align into the checkpoints it trains ({alignment: its recipe})
# and into saved tiny models ({random_weights, tiny}); read by the hf and vllm backends
METADATA_FILE = "va_safetybench.json"
CHECKPOINT_METADATA = FileFormat("checkpoint metadata", 1)

MediaKind = Literal["image", "video", "audio"]


@dataclass(frozen=True)
class Media:
    kind: MediaKind
    path: Path


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt. `prompt` is None when the media carry the whole question (VA Audio-only)."""

    prompt: str | None
    media: tuple[Media, ...] = ()


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 300  # the paper's setting
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    def cache_fields(self) -> dict:
        return {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class GenerationError:
    """A request that failed (unreadable media, API error). Counted as an error, never as safe."""

    message: str


GenerationResult = str | GenerationError


@dataclass
class ModelInfo:
    backend: str  # "hf" | "vllm" | "openai" | "tiny"
    name: str
    modalities: frozenset[MediaKind] = field(default_factory=frozenset)
    random_weights: bool = False
    metadata: dict = field(default_factory=dict)  # e.g. {"alignment": {"method": "SEA-DPO", ...}}


class ModelBackend(ABC):
    """A model behind one interface. The harness streams prepared jobs to it (`stream`); `generate` is the
    plain call for a list of requests, through the same stream."""

    info: ModelInfo

    def prepare(self, request: GenerationRequest) -> Any:
        """The CPU work of one request before generation (media decoded, the backend's input built). Runs in
        worker threads ahead of generation, so it must be thread-safe; it raises for a request it cannot take
        (that request fails, the others go on)."""
        return request

    @abstractmethod
    def stream(self, feed: JobFeed) -> Iterator[list[tuple[int, GenerationResult]]]:
        """Generate the feed's jobs, pulling them as there is room, and yield (job id, result) groups as they
        complete, in any order. Must not raise for a single bad job."""

    def generate(self, requests: list[GenerationRequest], settings: GenerationSettings) -> list[GenerationResult]:
        """One result per request, in order."""
        results: list[GenerationResult] = [GenerationError("not generated")] * len(requests)
        with JobFeed(self.prepare, ((i, r, settings) for i, r in enumerate(requests))) as feed:
            for done in completions(self, feed):
                for index, result in done:
                    results[index] = result
        return results

    def close(self) -> None:
        """Release engines, pools and GPU memory."""


def completions(backend: ModelBackend, feed: JobFeed) -> Iterator[list[tuple[int, GenerationResult]]]:
    """The backend's completed groups, with the feed's preparation failures joined to them as they occur."""
    for done in backend.stream(feed):
        yield [*feed.failures(), *done]
    failed: list[tuple[int, GenerationResult]] = [*feed.failures()]
    if failed:
        yield failed


DEFAULT_PREFETCH = 32  # requests prepared ahead of generation: bounds the decoded media held in memory
_MAX_ERROR_CHARS = 300


def default_decode_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Job:
    """One request on its way through a backend: `id` is the caller's, `work` what the backend's prepare made."""

    id: int
    work: Any
    settings: GenerationSettings


def preparation_error(exc: Exception) -> GenerationError:
    """A request that could not be prepared: an unreadable file, or a medium the model cannot take."""
    from .media_loading import MediaError

    what = "unreadable media" if isinstance(exc, (MediaError, OSError)) else "bad request"
    return GenerationError(f"{what}: {type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS])


class JobFeed:
    """Prepared jobs in request order, made by `workers` threads at most `prefetch` ahead of the consumer.

    `next()` waits for the next job (None once there are no more); `next(wait=False)` returns None at once
    when the next job is not ready yet, so a backend with work in flight keeps generating instead of waiting
    for a decoder. Requests that fail to prepare go to `failures` (drained by the caller), never to the backend.
    With `workers=0` every request is prepared in the consumer's thread when it is asked for: the serial way.
    """

    def __init__(
        self,
        prepare: Callable[[GenerationRequest], Any],
        items: Iterable[tuple[int, GenerationRequest, GenerationSettings]],
        workers: int | None = None,
        prefetch: int = DEFAULT_PREFETCH,
    ) -> None:
        self._prepare = prepare
        self._items = iter(items)
        self._workers = default_decode_workers() if workers is None else max(0, int(workers))
        self._prefetch = max(1, int(prefetch))
        self._ahead: deque[tuple[int, GenerationSettings, Future]] = deque()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="va-bench-prepare") if self._workers else None
        self._lock = threading.Lock()
        self._failures: queue.SimpleQueue[tuple[int, GenerationError]] = queue.SimpleQueue()
        self.exhausted = False  # every job has been handed out (or failed)
        self._fill()

    def _fill(self) -> None:
        """Keep `prefetch` requests submitted to the pool."""
        if self._pool is None:
            return
        while len(self._ahead) < self._prefetch:
            item = next(self._items, None)
            if item is None:
                return
            index, request, settings = item
            self._ahead.append((index, settings, self._pool.submit(self._prepare, request)))

    def next(self, wait: bool = True) -> Job | None:
        with self._lock:
            while True:
                if self._pool is None:
                    item = next(self._items, None)
                    if item is None:
                        self.exhausted = True
                        return None
                    index, request, settings = item
                    try:
                        return Job(index, self._prepare(request), settings)
                    except VABenchError:
                        raise  # the run's own input or set-up is wrong, not this request
                    except Exception as exc:  # noqa: BLE001  # one bad request must not sink the run
                        self._failures.put((index, preparation_error(exc)))
                        continue
                if not self._ahead:
                    self.exhausted = True
                    return None
                index, settings, future = self._ahead[0]
                if not wait and not future.done():
                    return None
                self._ahead.popleft()
                self._fill()
                try:
                    return Job(index, future.result(), settings)
                except VABenchError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    self._failures.put((index, preparation_error(exc)))

    def __iter__(self) -> Iterator[Job]:
        while (job := self.next()) is not None:
            yield job

    def failures(self) -> list[tuple[int, GenerationError]]:
        """Requests that failed to prepare since the last call."""
        out = []
        while True:
            try:
                out.append(self._failures.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        """Drop what was prepared ahead and stop the workers (an interrupted run leaves no thread behind)."""
        if self._pool is not None:
            for _, _, future in self._ahead:
                future.cancel()
            self._ahead.clear()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._items = iter(())

    def __enter__(self) -> JobFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
