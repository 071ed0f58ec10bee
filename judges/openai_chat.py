"""What every judge that asks an OpenAI-compatible chat endpoint shares: client, key, concurrency,
retries with backoff, timeout and the sqlite verdict cache.

Subclasses say only what is theirs: the exact prompt text for an item (`prompt_for`), an optional
constant system message (`system`, part of the cache key like the prompt) and how
the endpoint's answer becomes a verdict (`parse`). Used by the safety judge (gpt.py) and XSTest's
refusal classifier (refusal_gpt.py), so both behave the same on rate limits, outages and reruns.
"""

from __future__ import annotations

import asyncio
import random
import re
from abc import abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from va_safetybench.chat_replies import MalformedReply, chat_text
from va_safetybench.endpoints import api_key, check_base_url, effective_endpoint, openai_client
from va_safetybench.errors import EndpointMisconfigured, InputError
from va_safetybench.netlimits import DEFAULT_MAX_REPLY_BYTES, NetLimits, ReplyTooLarge

from .base import Judge, JudgeInput, Keep, Verdict, option_names
from .cache import VerdictCache, cache_key

Arrived = Callable[[list[int], Verdict], None]  # told (positions in the batch, verdict) as each reply comes
_JUNK = " \t\r\n*_`\"'\u201c\u201d\u2018\u2019([{<>#.:-"  # markdown, quotes and brackets around an answer


def answer_head(text: str, label_prefix: re.Pattern) -> str:
    """A chat judge's answer lower-cased, with the markup and quotes around it and a leading
    'Answer:'-style label (`label_prefix`) removed, so that parsers only match the answer itself."""
    return label_prefix.sub("", text.strip().lower().lstrip(_JUNK)).lstrip(_JUNK)


def run_coroutine(coro):
    """asyncio.run, also from code that is already inside an event loop (run it on a helper thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass(frozen=True)
class ChatOptions:
    """--judge-args of every judge that asks an OpenAI-compatible chat endpoint."""

    base_url: str | None = field(default=None, metadata={"help": "the server, e.g. http://127.0.0.1:8000/v1"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "the variable holding the API key"})
    concurrency: int = field(default=32, metadata={"help": "requests in flight at once"})
    max_retries: int = field(default=5, metadata={"help": "retries of a rate-limited or failed request"})
    timeout: float = field(default=60.0, metadata={"help": "seconds a whole request may take"})
    max_reply_bytes: int = field(default=DEFAULT_MAX_REPLY_BYTES, metadata={"help": "the largest reply read"})
    backoff: float = field(default=1.0, metadata={"help": "seconds before the first retry, doubled each time"})
    cache_dir: str | Path | None = field(
        default=None, metadata={"help": "verdict cache (~/.cache/va-safetybench/judge)"}
    )
    use_cache: bool = field(default=True, metadata={"help": "false: ask again even what the cache holds"})


class ChatJudge(Judge):
    """One chat request per distinct prompt (temperature 0), answers parsed by the subclass, cached by prompt."""

    system: str | None = None  # a constant system message sent before the prompt, when upstream sends one
    what = "gpt judge"  # how error messages name this judge
    Options = ChatOptions

    def __init__(self, model: str, cache_file: str, **options: Any) -> None:
        """`options`: the fields of ChatOptions (which own their defaults)."""
        try:
            opts = ChatOptions(**options)
        except TypeError:
            unknown = sorted(set(options) - set(option_names(ChatOptions)))
            raise InputError(f"{self.what} takes no option {unknown[0]!r}") from None
        base_url, api_key_env, concurrency = opts.base_url, opts.api_key_env, opts.concurrency
        max_retries, timeout, max_reply_bytes, backoff = (
            opts.max_retries,
            opts.timeout,
            opts.max_reply_bytes,
            opts.backoff,
        )
        cache_dir, use_cache = opts.cache_dir, opts.use_cache
        if not isinstance(concurrency, int) or concurrency < 1:
            raise InputError(f"{self.what}: concurrency must be an integer >= 1, got {concurrency!r}")
        if not str(model).strip():
            raise InputError(f"{self.what}: no model name given")
        self.model, self.api_key_env = str(model).strip(), api_key_env
        self.base_url = check_base_url(base_url, f"{self.what} base_url")
        self.endpoint = effective_endpoint(self.base_url)  # what the results record and the cache keys on
        api_key(self.base_url, api_key_env, self.what)  # a missing key fails now, before anything is generated
        self.concurrency, self.max_retries, self.timeout, self.backoff = concurrency, max_retries, timeout, backoff
        try:  # the whole request within `timeout`, its reply within `max_reply_bytes` (netlimits.py)
            self.limits = NetLimits(float(timeout), int(max_reply_bytes))
        except (TypeError, ValueError):
            raise InputError(
                f"{self.what}: timeout and max_reply_bytes must be positive numbers, got {timeout!r}, "
                f"{max_reply_bytes!r}"
            ) from None
        self.cache = VerdictCache(cache_dir, cache_file) if use_cache else None
        self.requests_sent = 0  # HTTP requests made by this judge (retries included): for tests and benches

    @abstractmethod
    def prompt_for(self, item: JudgeInput) -> str:
        """The exact user message for one item."""

    @abstractmethod
    def parse(self, text: str | None) -> Verdict:
        """The endpoint's answer -> a verdict (`error` for anything unparsable)."""

    def _judge_nonempty(self, batch: list[JudgeInput]) -> list[Verdict]:
        return self._replies(batch, None)

    def judge_each(self, batch: list[JudgeInput], keep: Keep) -> list[Verdict]:
        """judge(batch), handing on each verdict the moment its reply arrives (or, known already, at once)."""
        empty, sent = self._split(batch)
        final: dict[int, Verdict] = {}

        def arrived(positions: list[int], reply: Verdict) -> None:
            told = [(sent[k], self._final(reply, sent[k] in empty)) for k in positions]
            final.update(told)
            keep(told)

        self._replies([batch[i] for i in sent], arrived)
        rest = [(i, self._final(None, True)) for i in range(len(batch)) if i not in final]  # empty, not sent
        if rest:
            final.update(rest)
            keep(rest)
        return [final[i] for i in range(len(batch))]

    def _replies(self, batch: list[JudgeInput], arrived: Arrived | None) -> list[Verdict]:
        """The endpoint's verdict per item (cached ones first, one request per distinct prompt), each told to
        `arrived(positions in batch, verdict)` as it comes."""
        prompts = [self.prompt_for(item) for item in batch]
        sent = f"{self.system}\0" if self.system else ""  # the system message is part of what was asked
        keys = [cache_key(self.version, self.endpoint, self.model, sent + p) for p in prompts]
        positions: dict[str, list[int]] = {}
        for k, key in enumerate(keys):
            positions.setdefault(key, []).append(k)
        known = self.cache.get_many(keys) if self.cache else {}
        if arrived is not None:
            for key, verdict in known.items():
                arrived(positions[key], verdict)
        todo = {k: p for k, p in zip(keys, prompts) if k not in known}  # identical prompts: one request
        if todo:
            tell = None if arrived is None else (lambda key, verdict: arrived(positions[key], verdict))
            known.update(run_coroutine(self._ask_all(todo, tell)))
        return [known[k] for k in keys]

    async def _ask_all(
        self, todo: dict[str, str], arrived: Callable[[str, Verdict], None] | None = None
    ) -> dict[str, Verdict]:
        client = openai_client(
            self.base_url,
            self.api_key_env,
            self.what,
            asynchronous=True,
            timeout=self.timeout,
            max_reply_bytes=self.limits.max_bytes,
        )
        gate = asyncio.Semaphore(self.concurrency)
        try:
            keys = list(todo)
            results = await asyncio.gather(
                *(self._kept(client, gate, k, todo[k], arrived) for k in keys), return_exceptions=True
            )
        finally:
            await client.close()
        return dict(zip(keys, map(_verdict_or_raise, results)))

    async def _kept(
        self, client, gate: asyncio.Semaphore, key: str, prompt: str, arrived: Callable[[str, Verdict], None] | None
    ) -> Verdict:
        """One verdict, in the cache and told to `arrived` the moment it arrives: an interrupted run (Ctrl-C,
        SIGTERM, a crash) keeps every verdict it paid for, and its rerun asks only for the others."""
        verdict = await self._ask(client, gate, prompt)
        if self.cache:
            self.cache.put(key, verdict)
            self.cache.commit()
        if arrived is not None:
            arrived(key, verdict)
        return verdict

    async def _ask(self, client, gate: asyncio.Semaphore, prompt: str) -> Verdict:
        import openai

        retryable = (
            openai.RateLimitError,
            openai.InternalServerError,
            openai.APITimeoutError,
            openai.APIConnectionError,
        )
        fatal = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": prompt}
        ]
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
            try:
                async with gate:
                    self.requests_sent += 1
                    reply = await client.chat.completions.with_raw_response.create(
                        model=self.model, temperature=0, messages=messages
                    )
                    return self.parse(chat_text(reply.content))
            except (MalformedReply, ReplyTooLarge) as exc:  # this item's error; the others' verdicts stand
                return Verdict("error", f"malformed reply: {exc}")
            except fatal as exc:
                raise EndpointMisconfigured(
                    f"{self.what}: {self.endpoint} refused the request "
                    f"(HTTP {exc.status_code}); check model {self.model!r} and ${self.api_key_env}"
                ) from None
            except retryable as exc:
                last = _describe(exc)
                continue
            except openai.APIStatusError as exc:  # other 4xx (bad request, content filter): not worth retrying
                return Verdict("error", f"request failed: {_describe(exc)}")
        return Verdict("error", f"request failed after {self.max_retries + 1} attempts: {last}")


def _verdict_or_raise(result: Verdict | BaseException) -> Verdict:
    """One request's verdict; an endpoint refusing every request (InputError) or an interruption stops the batch,
    anything else that one request raised is its own error verdict (the others are kept)."""
    if isinstance(result, InputError) or not isinstance(result, (Verdict, Exception)):
        raise result
    if isinstance(result, Exception):
        return Verdict("error", f"request failed: {type(result).__name__}")
    return result


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")
