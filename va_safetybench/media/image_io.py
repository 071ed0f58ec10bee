"""Image bytes in and out: the one JPEG encoder and decoder every image task uses."""

from __future__ import annotations

import io
from pathlib import Path


def jpeg_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG")  # Pillow defaults (quality 75), like upstream's img.save(path)
    return buf.getvalue()


def decode_image(path: Path):
    """Fully decode an image file; raise ValueError if it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not a decodable image ({exc})") from None
