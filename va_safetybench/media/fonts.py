"""Font resolution shared by every typography renderer."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

# Liberation Sans is metric-compatible with Arial, the font MM-SafetyBench used: it breaks every
# MM-SafetyBench key phrase into the same lines (ARCHITECTURE.md). Debian: fonts-liberation.
DEFAULT_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:/Windows/Fonts/arial.ttf",
)


def resolve_font(path: str | None) -> Path:
    """The TTF to use: `path` if given (it must exist), else the first default found."""
    if path:
        font = Path(path)
        if not font.is_file():
            raise InputError(f"--font {path}: no such font file")
        return font
    for candidate in DEFAULT_FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise InputError("no default font: install Liberation Sans (Debian: fonts-liberation) or pass --font PATH")


def load_font(path: Path, size: int):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(path), size)
    except OSError as exc:
        raise InputError(f"--font {path}: not a readable TrueType font ({exc})") from None
