"""SmolVLM: the generic path; its processor spells frame timestamps with num2words (the `smolvlm` extra)."""

from __future__ import annotations

from typing import ClassVar

from .generic import GenericAdapter


class SmolVLMAdapter(GenericAdapter):
    extra: ClassVar[tuple[str, tuple[str, ...]] | None] = ("smolvlm", ("num2words",))
