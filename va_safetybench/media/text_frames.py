"""White-on-black text frames for the video tasks (TYPO and the DM+TYPO tail), one code path.

A word frame shows one word centred at WORD_FONT_SIZE px, shrunk until it fits the frame
width less MARGIN on each side. A phrase frame shows the whole key phrase centred, wrapped
greedily at word boundaries, starting at PHRASE_FONT_SIZE px and shrinking until the wrapped
block fits inside the margins. Text is never drawn with a glyph the font lacks: `missing_glyphs`
finds characters that would come out as the font's .notdef box, so callers can refuse them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .fonts import load_font
from .video_io import HEIGHT, WIDTH

WORD_FONT_SIZE = 96
PHRASE_FONT_SIZE = 64
MIN_FONT_SIZE = 8
MARGIN = 32  # px kept clear on every side
LINE_SPACING = 1.2  # line height / font size in phrase frames
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
_NOTDEF_PROBE = "\U0010fffd"  # a private-use code point no text font maps: renders as .notdef


@lru_cache(maxsize=64)
def _font(path: str, size: int):
    return load_font(Path(path), size)


def missing_glyphs(text: str, font_path: Path) -> list[str]:
    """Characters of `text` (other than whitespace) that `font_path` has no glyph for."""
    font = _font(str(font_path), 32)
    notdef = _glyph_signature(font, _NOTDEF_PROBE)
    return sorted({ch for ch in text if not ch.isspace() and _glyph_signature(font, ch) == notdef})


def _glyph_signature(font, ch: str) -> tuple:
    mask = font.getmask(ch)
    return mask.size, bytes(mask), font.getlength(ch)


def _width(text: str, font) -> float:
    left, _, right, _ = font.getbbox(text)
    return right - left


def word_frame(word: str, font_path: Path) -> np.ndarray:
    """One word, white on black, centred; the font shrinks until it fits the width."""
    size = WORD_FONT_SIZE
    while size > MIN_FONT_SIZE and _width(word, _font(str(font_path), size)) > WIDTH - 2 * MARGIN:
        size -= 2
    return _draw([word], _font(str(font_path), size), size)


def phrase_frame(phrase: str, font_path: Path) -> np.ndarray:
    """The whole phrase, wrapped and centred, at the largest size (<= PHRASE_FONT_SIZE) that fits."""
    words = phrase.split()
    size = PHRASE_FONT_SIZE
    while True:
        font = _font(str(font_path), size)
        lines = _wrap(words, font)
        fits = (
            max(_width(line, font) for line in lines) <= WIDTH - 2 * MARGIN
            and len(lines) * size * LINE_SPACING <= HEIGHT - 2 * MARGIN
        )
        if fits or size <= MIN_FONT_SIZE:
            return _draw(lines, font, size)
        size -= 2


def _wrap(words: list[str], font) -> list[str]:
    lines: list[str] = []
    for word in words:
        if lines and _width(lines[-1] + " " + word, font) <= WIDTH - 2 * MARGIN:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _draw(lines: list[str], font, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (WIDTH, HEIGHT), BLACK)
    draw = ImageDraw.Draw(img)
    step = size * LINE_SPACING
    top = HEIGHT / 2 - step * (len(lines) - 1) / 2
    for n, line in enumerate(lines):
        draw.text((WIDTH / 2, top + n * step), line, fill=WHITE, font=font, anchor="mm")
    return np.asarray(img)


def require_glyphs(items, font_path: Path) -> None:
    """Refuse, before any rendering, an item whose key phrase the font cannot draw."""
    from ..errors import InputError

    for item in items:
        missing = missing_glyphs(item.key_phrase, font_path)
        if missing:
            codes = ", ".join(f"U+{ord(ch):04X}" for ch in missing[:8])
            raise InputError(
                f"item {item.key}: font {font_path.name} has no glyph for {codes} in its key phrase; "
                "pass --font with a TTF that covers them"
            )
