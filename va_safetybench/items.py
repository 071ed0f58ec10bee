"""The one typed record every benchmark question becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Benchmark = Literal["va", "mmsb"]


@dataclass(frozen=True)
class Item:
    """One benchmark question with the text prompt of each task it belongs to.

    `prompts` maps a task name (see `taskspec.TASKS`) to the official prompt string, or to
    None where the media carries the whole question (VA Audio-only).
    """

    benchmark: Benchmark
    scenario: str
    id: str
    question: str
    key_phrase: str
    phrase_type: str  # "activity" / "product" in VA scenarios; free text in MM 08-13
    prompts: dict[str, str | None] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable unique key across both benchmarks: 'va/1-IllegalActivitiy/0'."""
        return f"{self.benchmark}/{self.scenario}/{self.id}"

    def sort_key(self) -> tuple[str, str, int]:
        return (self.benchmark, self.scenario, int(self.id) if self.id.isdigit() else 0)
