"""Untrusted text made safe to print: to a terminal (a log), and into Markdown (a CI job's step summary).

Model names, task names, file paths and judge answers come from files anyone can edit. Printed raw, an
escape sequence (ESC [2J) rewrites a terminal or a CI log, a right-to-left override reorders what a
reviewer reads, and a newline followed by `**PASS**` forges a line of a Markdown report. `for_terminal`
shows every such character as a visible escape (\\n, \\x1b, \\u202e) and keeps all other text as it is;
`for_markdown` does that and then escapes what Markdown and the HTML inside it would read as markup.
"""

from __future__ import annotations

import re
import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# what opens markup where our lines put untrusted text; "_" inside a word (va_video_typo) is plain text in GFM
_MARKDOWN = re.compile(r"([\\`*\[\]#!|~>]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def _visible(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _hidden(char: str) -> bool:
    """Control characters, format characters (bidi overrides, zero-width), line and paragraph separators."""
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def for_terminal(text: object) -> str:
    """`text` on one line with no character that a terminal would act on or hide."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(_visible(c) if _hidden(c) else c for c in s)


def for_markdown(text: object) -> str:
    """`text` as literal Markdown text: one line, no markup, no HTML."""
    s = _MARKDOWN.sub(r"\\\1", for_terminal(text))
    return s.replace("&", "&amp;").replace("<", "&lt;")
