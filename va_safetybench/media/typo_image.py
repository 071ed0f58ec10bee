"""MM-SafetyBench typography images (TYPO) and SD image + typography (SD+TYPO).

This follows MM-SafetyBench's own generator (isXinLiu/MM-SafetyBench, creation/: the
`typo_format_text` / `typo_draw_img` / `vertical_concat` functions), re-written here:
  * font size 90, canvas 1024 wide, white background, black text;
  * greedy wrapping: the line length is the running sum of `ImageDraw.textlength(" " + word)`
    (the first word measured alone); a word whose addition keeps the sum below 1024 joins the
    line, otherwise a new line begins with "\\n " + word (so continuation lines start with a space);
  * height = 90 x (lines + 1), the whole text drawn with one `draw.text((0, 45), ...)` call;
  * saved as JPEG with Pillow's defaults (quality 75), as upstream's `img.save("....jpg")` did;
  * SD+TYPO: a canvas as wide as the wider image and as high as both, black where neither
    covers it (upstream's `Image.new('RGB', size)`), the SD image pasted at (0, 0) and the
    typography image left-aligned below it. Upstream pasted the saved TYPO JPEG, so we paste the
    decoded JPEG of our typography image too.
Arial is replaced by Liberation Sans (metric-compatible: same line breaks; see ARCHITECTURE.md).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..items import Item
from ..materialize.hashing import file_sha256, text_digest
from ..materialize.renderer import RecordedHash, Renderer
from ..materialize.settings import BuildSettings
from .fonts import load_font, resolve_font
from .image_io import decode_image, jpeg_bytes

FONT_SIZE = 90
MAX_WIDTH = 1024


def wrap_words(text: str, textlength) -> list[str]:
    """Upstream's greedy line breaking; `textlength(s)` measures a string in pixels.

    Returns the lines as drawn: every line after the first starts with a space.
    """
    words = text.strip().split(" ")
    lines = [words[0]]
    cur_len = textlength(words[0])
    for word in words[1:]:
        seg_len = textlength(" " + word)
        if cur_len + seg_len < MAX_WIDTH:
            lines[-1] += " " + word
            cur_len += seg_len
        else:
            lines.append(" " + word)
            cur_len = seg_len
    return lines


@lru_cache(maxsize=4)
def _font(path: str):
    return load_font(Path(path), FONT_SIZE)


def typography_image(text: str, font_path: Path):
    """The TYPO image of `text` as a PIL image (RGB, 1024 x 90*(lines+1))."""
    from PIL import Image, ImageDraw

    font = _font(str(font_path))
    probe = ImageDraw.Draw(Image.new("RGB", (MAX_WIDTH, 100), (255, 255, 255)))
    lines = wrap_words(text, lambda s: probe.textlength(s, font=font))
    img = Image.new("RGB", (MAX_WIDTH, FONT_SIZE * (len(lines) + 1)), (255, 255, 255))
    ImageDraw.Draw(img).text((0, FONT_SIZE / 2.0), "\n".join(lines), (0, 0, 0), font=font)
    return img


class TypoImageRenderer(Renderer):
    version = "1"

    def __init__(self, settings: BuildSettings, **args: object) -> None:
        super().__init__(settings, **args)
        self.font_path = resolve_font(settings.font)
        _font(str(self.font_path))  # a broken font file fails now, before any work

    def _common_recipe(self) -> dict:
        import PIL

        return {
            "font": _font_digest(str(self.font_path)),
            "size": FONT_SIZE,
            "width": MAX_WIDTH,
            "pillow": PIL.__version__,
        }

    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        return {**self._common_recipe(), "text": text_digest(item.key_phrase)}

    def render(self, item: Item, dest: Path, bench: Path) -> None:
        dest.write_bytes(jpeg_bytes(typography_image(item.key_phrase, self.font_path)))

    def verify(self, path: Path) -> None:
        img = decode_image(path)
        if img.width != MAX_WIDTH or img.height % FONT_SIZE or img.height < 2 * FONT_SIZE:
            raise ValueError(f"size {img.width}x{img.height} is not {MAX_WIDTH} x 90*(lines+1)")

    def describe(self) -> dict:
        return {**super().describe(), "font": self.font_path.name, "font_size": FONT_SIZE, "width": MAX_WIDTH}


@lru_cache(maxsize=4)
def _font_digest(path: str) -> str:
    return file_sha256(Path(path))[:16]
