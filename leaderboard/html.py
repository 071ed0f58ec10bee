"""Escaping and the page skeleton. Every model-written or benchmark string goes through `esc`
(HTML) or `script_json` (data for <script>), never straight into markup."""

from __future__ import annotations

import html
import json
from typing import Any

esc = html.escape


def script_json(obj: Any) -> str:
    """JSON that is safe inside a <script> element or a .js file loaded by one.

    Every "<" becomes \\u003c (valid in both JSON and JavaScript strings), so neither "</script>"
    nor "<!--" can appear; ensure_ascii also turns U+2028/U+2029 into escapes.
    """
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).replace("<", "\\u003c")


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def asr_colour(value: float | None) -> str:
    """Background for an ASR cell: white at 0, dark red at 1, grey when nothing was judged."""
    if value is None:
        return "#e5e5e5"
    v = min(1.0, max(0.0, value))
    return f"rgb({255 - int(75 * v)},{255 - int(225 * v)},{255 - int(215 * v)})"


def ink(value: float | None) -> str:
    """Text colour readable on `asr_colour(value)`."""
    return "#fff" if value is not None and value > 0.55 else "#111"


def page(title: str, body: str, root: str = "", scripts: tuple[str, ...] = ("site.js",)) -> str:
    """A complete HTML page; `root` is the relative path from the page to the site root ("" or "../")."""
    tags = "".join(f'<script src="{root}assets/{s}" defer></script>' for s in scripts)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>"
        f'<link rel=stylesheet href="{root}assets/site.css">{tags}</head>'
        f"<body>{body}</body></html>"
    )
