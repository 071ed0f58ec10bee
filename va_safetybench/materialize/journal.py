"""Append-only record of finished media files: what makes builds incremental and resumable.

A line is written only after a file was renamed into place, so after a kill every journal
entry names a complete file; a torn last line is ignored.
"""

from __future__ import annotations

from pathlib import Path

from ..fileio import FileFormat, append_jsonl, read_jsonl, write_jsonl

BUILD_JOURNAL = FileFormat("build journal", 1)  # {path, recipe, sha256, bytes} per line; v1 with or without the field


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict] = {}
        if path.exists():  # a torn tail or damaged line only means that file is rendered again
            for entry in read_jsonl(path, skip_bad=True):
                if isinstance(entry.get("path"), str):
                    self.entries[entry["path"]] = entry

    def is_current(self, bench: Path, rel: str, recipe_hash: str) -> bool:
        entry = self.entries.get(rel)
        if entry is None or entry.get("recipe") != recipe_hash:
            return False
        try:
            return (bench / rel).stat().st_size == entry.get("bytes")
        except FileNotFoundError:
            return False

    def sha256(self, rel: str) -> str | None:
        entry = self.entries.get(rel)
        return entry["sha256"] if entry else None

    def record(self, rel: str, recipe_hash: str, sha256: str, size: int) -> None:
        """One line, appended and fsynced (fileio.append_jsonl: a kill or a full disk can only tear this line)."""
        entry = BUILD_JOURNAL.stamp({"path": rel, "recipe": recipe_hash, "sha256": sha256, "bytes": size})
        append_jsonl(self.path, BUILD_JOURNAL, [entry])
        self.entries[rel] = entry

    def compact(self) -> None:
        """Rewrite with one line per file so the journal does not grow with every rebuild."""
        write_jsonl(self.path, BUILD_JOURNAL, self.entries.values())
