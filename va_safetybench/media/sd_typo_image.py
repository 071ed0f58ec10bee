"""MM-SafetyBench SD+TYPO: the task's SD image stacked over its typography image.

Its own module because it needs both the SD and the TYPO renderers, which need nothing of each other.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..items import Item
from ..materialize.renderer import RecordedHash
from ..taskspec import TASKS
from .image_io import decode_image, jpeg_bytes
from .sd_image import SDImageRenderer
from .typo_image import FONT_SIZE, TypoImageRenderer, typography_image


class SDTypoImageRenderer(TypoImageRenderer):
    """Stage 1: stacks the built SD image (task mmsb_sd, same bench) over the typography image."""

    def unavailable_reason(self) -> str | None:
        reason = SDImageRenderer(self.settings).unavailable_reason()
        return f"SD+TYPO needs the SD images: {reason}" if reason else None

    def _sd_rel(self, item: Item) -> str:
        return TASKS["mmsb_sd"].required_media.relpath(item.scenario, item.id)

    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        return {**super().recipe(item, recorded), "sd_sha256": recorded(self._sd_rel(item))}

    def render(self, item: Item, dest: Path, bench: Path) -> None:
        from PIL import Image

        sd_path = bench / self._sd_rel(item)
        if not sd_path.exists():
            raise RuntimeError(f"{self._sd_rel(item)} is missing: build task mmsb_sd into this bench first")
        top = decode_image(sd_path).convert("RGB")
        bottom = Image.open(io.BytesIO(jpeg_bytes(typography_image(item.key_phrase, self.font_path))))
        canvas = Image.new("RGB", (max(top.width, bottom.width), top.height + bottom.height))
        canvas.paste(top, (0, 0))
        canvas.paste(bottom, (0, top.height))
        dest.write_bytes(jpeg_bytes(canvas))

    def verify(self, path: Path) -> None:
        img = decode_image(path)
        if img.height <= FONT_SIZE * 2:
            raise ValueError(f"size {img.width}x{img.height} has no room for an SD image above the text")
