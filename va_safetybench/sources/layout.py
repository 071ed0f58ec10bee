"""File layout shared by the official download cache, local directories and the demo set.

It is the layout of `shared/data/`: the upstream repositories' folders under two roots.
"""

from __future__ import annotations

from pathlib import Path

from ..scenarios import MM_SCENARIOS, VA_SCENARIOS

VA_ROOT = "va-safetybench"
MM_ROOT = "mm-safetybench"
VA_KINDS = ("Video_questions", "Audio_questions")


def va_file(root: Path, kind: str, scenario: str) -> Path:
    return root / VA_ROOT / kind / f"{scenario}.json"


def mm_file(root: Path, scenario: str) -> Path:
    return root / MM_ROOT / "processed_questions" / f"{scenario}.json"


def expected_files(root: Path) -> list[Path]:
    """Every question file a complete source directory holds."""
    files = [va_file(root, k, s) for k in VA_KINDS for s in VA_SCENARIOS]
    files += [mm_file(root, s) for s in MM_SCENARIOS]
    return files
