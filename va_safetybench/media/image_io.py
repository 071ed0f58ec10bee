"""Image bytes in and out: the one JPEG encoder and decoder every image task uses."""

from __future__ import annotations

import io
from pathlib import Path


def jpeg_bytes(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG")  # Pillow defaults (quality 75), like upstream's img.save(path)
    return buf.getvalue()


def decode_image(path: Path):
    """Fully decode an image file; raise ValueError if it is not one, or if its header declares more pixels than
    limits.IMAGE_PIXELS (checked before a single pixel is decoded: a 60000x60000 JPEG is a few hundred bytes)."""
    from PIL import Image, UnidentifiedImageError

    from ..limits import IMAGE_PIXELS

    limit = IMAGE_PIXELS.value()
    try:
        with Image.open(path) as img:
            if img.width * img.height > limit:
                raise ValueError(
                    f"declares {img.width}x{img.height} pixels, over the {limit:,.0f}-pixel limit "
                    f"(${IMAGE_PIXELS.variable})"
                )
            img.load()
            return img.copy()
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, hit while reading the header
        raise ValueError(f"over the {limit:,.0f}-pixel limit: {str(exc).split(',')[0]}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not a decodable image ({exc})") from None
