"""OpenAI-compatible endpoints named on the command line, checked before any request is made.

A `base_url` that no client can reach (no scheme, no host, a typo like `localhost:8000/v1`) would
otherwise fail once per request, after the model or judge was loaded: checked here, it is an exit 2
naming the option. `effective_endpoint` is the URL the openai client really talks to (the explicit
base_url, else $OPENAI_BASE_URL, else OpenAI's own), which is what a result records and what keys
the judge's verdict cache.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from .errors import InputError

OPENAI_DEFAULT = "https://api.openai.com/v1"


def check_base_url(base_url: object, what: str) -> str | None:
    """`base_url` when it is an http(s) URL with a host (None stays None); InputError naming `what` otherwise."""
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
        raise InputError(f"{what}={shown}: expected an http(s) URL with a host, e.g. http://127.0.0.1:8000/v1")
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
