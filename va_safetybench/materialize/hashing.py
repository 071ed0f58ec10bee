"""Content and recipe hashes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def recipe_hash(renderer_path: str, version: str, recipe: dict) -> str:
    blob = json.dumps({"renderer": renderer_path, "version": version, "recipe": recipe}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def text_digest(text: str) -> str:
    """Short digest of benchmark text for recipes, so harmful text is not copied around."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
