"""Append-only response cache that makes generation resumable.

One JSON line per generated response: {"key", "task", "item", "response"}. Lines are appended
and fsynced after every batch, so a killed run loses at most the batch in flight; a restart
with the same model, task, item, prompt, media and generation settings finds the key and does
not generate again. Failed generations are not cached: they are retried on the next run.
A torn last line (kill during a write) is ignored on reading.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_key(fields: dict) -> str:
    """sha256 over the canonical JSON of everything that determines a response."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path):
        self.path = path
        self._entries: dict[str, str] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a write cut short by a kill
                if isinstance(entry, dict) and isinstance(entry.get("response"), str):
                    self._entries[entry["key"]] = entry["response"]

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> str | None:
        return self._entries.get(key)

    def append(self, entries: list[dict]) -> None:
        """Durably add {"key", "response", ...} entries (one batch)."""
        if not entries:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
        with open(self.path, "a", encoding="utf-8") as fh:
            if fh.tell() > 0 and not self._ends_with_newline():
                data = "\n" + data  # isolate a torn line left by a kill
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        for e in entries:
            self._entries[e["key"]] = e["response"]

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"
