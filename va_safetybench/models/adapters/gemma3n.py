"""Gemma 3n: images through a timm vision tower (the `gemma3n` extra installs timm) and audio through its
conformer; everything else is the generic path."""

from __future__ import annotations

from typing import ClassVar

from .generic import GenericAdapter


class Gemma3nAdapter(GenericAdapter):
    extra: ClassVar[tuple[str, tuple[str, ...]] | None] = ("gemma3n", ("timm",))
