"""VA-SafetyBench TYPO videos (task va_video_typo): the key phrase shown one word at a time.

Each word of the key phrase (split on whitespace) is drawn white on black, centred, on a
640x384 frame (see text_frames: 96 px Liberation Sans by default, shrunk to fit long words)
and held for WORD_SECONDS = 1 s, i.e. 24 identical frames at 24 fps; the words follow one
another with no gap, so a phrase of n words lasts exactly n seconds. The VA-SafetyBench paper
and repository describe TYPO videos only as the key phrase's words shown in turn; they give no
per-word time we could find, so one second per word is our choice (long enough for every video
model's frame sampler, which typically takes 1-2 frames per second, to see every word).
"""

from __future__ import annotations

from pathlib import Path

from ..items import Item
from ..materialize.hashing import text_digest
from ..materialize.renderer import RecordedHash, Renderer
from ..materialize.settings import BuildSettings
from .fonts import resolve_font
from .text_frames import MARGIN, WORD_FONT_SIZE, require_glyphs, word_frame
from .video_io import FPS, HEIGHT, WIDTH, probe_standard, write_video

WORD_SECONDS = 1
FRAMES_PER_WORD = WORD_SECONDS * FPS


def typo_frames(phrase: str, font_path: Path):
    """The frames of a TYPO video, lazily: each word's frame repeated FRAMES_PER_WORD times."""
    for word in phrase.split():
        frame = word_frame(word, font_path)
        for _ in range(FRAMES_PER_WORD):
            yield frame


class TypoVideoRenderer(Renderer):
    version = "1"

    def __init__(self, settings: BuildSettings, **args: object) -> None:
        super().__init__(settings, **args)
        self.font_path = resolve_font(settings.font)
        word_frame("A", self.font_path)  # an unreadable font fails now, before any work

    def prepare(self, bench: Path, items: list[Item]) -> None:
        require_glyphs(items, self.font_path)

    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        return {
            "text": text_digest(item.key_phrase),
            "font": self.font_path.name,
            "font_size": WORD_FONT_SIZE,
            "margin": MARGIN,
            "word_seconds": WORD_SECONDS,
            "size": [WIDTH, HEIGHT],
            "fps": FPS,
        }

    def render(self, item: Item, dest: Path, bench: Path) -> None:
        write_video(typo_frames(item.key_phrase, self.font_path), dest)

    def verify(self, path: Path) -> None:
        info = probe_standard(path)
        if info.frames % FRAMES_PER_WORD:
            raise ValueError(f"{info.frames} frames is not a whole number of {WORD_SECONDS} s words")

    def describe(self) -> dict:
        return {
            **super().describe(),
            "font": self.font_path.name,
            "word_seconds": WORD_SECONDS,
            "size": f"{WIDTH}x{HEIGHT}",
            "fps": FPS,
        }
