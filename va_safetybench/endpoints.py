"""OpenAI-compatible endpoints: checked before any request is made, and the one way the project makes a client.

A `base_url` that no client can reach (no scheme, no host, a typo like `localhost:8000/v1`) would
otherwise fail once per request, after the model or judge was loaded: checked here, it is an exit 2
naming the option. `effective_endpoint` is the URL the openai client really talks to (the explicit
base_url, else $OPENAI_BASE_URL, else OpenAI's own), which is what a result records and what keys
the judge's verdict cache.

The key rule, the same for every client the project makes (judges, the `openai:` backend, SEA's phrase
extractor, DM scene prompts): the key is read from the environment variable `api_key_env` names (never
passed as an option, so none lands in a config, a log or a result); an endpoint on this machine
(localhost, a loopback address) needs none, any other endpoint needs one, and its absence is an error
before the first request.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import EndpointMisconfigured

OPENAI_DEFAULT = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
NO_KEY = "no-key"  # what a local server gets as its key: the openai client refuses to start without one


def check_base_url(base_url: object, what: str) -> str | None:
    """`base_url` when it is an http(s) URL with a host (None stays None); EndpointMisconfigured naming `what`."""
    if base_url is None:
        return None
    text = str(base_url).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        shown = "(a URL with credentials)" if "@" in text else repr(text)  # never echo a token carried in the URL
        raise EndpointMisconfigured(
            f"{what}={shown}: expected an http(s) URL with a host, e.g. http://127.0.0.1:8000/v1"
        )
    return text


def effective_endpoint(base_url: str | None) -> str:
    """The endpoint the openai client uses for `base_url` (it falls back to $OPENAI_BASE_URL, then OpenAI),
    without user, password, query or fragment: a gateway token carried in the URL never reaches a result."""
    parts = urlsplit(base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def is_local(base_url: str | None) -> bool:
    """Whether the endpoint the client reaches for `base_url` runs on this machine: localhost (or a name under
    .localhost), a loopback address, or the unspecified address (which a client connects to locally)."""
    host = (urlsplit(effective_endpoint(base_url)).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def api_key(base_url: str | None, api_key_env: str | None, what: str) -> str:
    """The API key for a client of `base_url` by the key rule (module docstring): the variable's value when it is
    set, a placeholder for a local endpoint, else EndpointMisconfigured naming `what` and the variable."""
    key = os.environ.get(api_key_env, "") if api_key_env else ""
    if key:
        return key
    if is_local(base_url):
        return NO_KEY
    variable = api_key_env or DEFAULT_KEY_ENV
    raise EndpointMisconfigured(
        f"{what}: {effective_endpoint(base_url)} needs an API key: set the environment variable {variable} "
        "(api_key_env=NAME names another; a local server such as http://127.0.0.1:8000/v1 needs none)"
    )


def openai_client(
    base_url: str | None,
    api_key_env: str | None,
    what: str,
    *,
    asynchronous: bool = False,
    max_retries: int = 0,
    timeout: float = 60.0,
    max_reply_bytes: int | None = None,
) -> Any:
    """An `openai.OpenAI` (or `AsyncOpenAI`) client for `base_url` with the key the rule gives: the one place the
    project makes one. `max_retries` is the client's own retrying (callers with their own backoff pass 0).
    `timeout` bounds each whole request, not each socket read, and `max_reply_bytes` (default 1 MiB) each reply:
    the client's HTTP layer is netlimits' (a dripping or flooding server costs one request, not the run)."""
    import openai

    from .netlimits import DEFAULT_MAX_REPLY_BYTES, BoundedAsyncClient, BoundedClient, NetLimits

    limits = NetLimits(float(timeout), max_reply_bytes or DEFAULT_MAX_REPLY_BYTES)
    options: dict[str, Any] = {
        "api_key": api_key(base_url, api_key_env, what),
        "base_url": check_base_url(base_url, f"{what} base_url"),
        "max_retries": max_retries,
        "timeout": timeout,
    }
    if asynchronous:
        return openai.AsyncOpenAI(**options, http_client=BoundedAsyncClient(limits))
    return openai.OpenAI(**options, http_client=BoundedClient(limits))
