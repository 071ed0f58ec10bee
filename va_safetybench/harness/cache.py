"""Append-only response cache that makes generation resumable.

One JSON line per generated response: {"key", "task", "item", "response"}. Lines are appended
and fsynced as responses complete (each group the backend hands back; fileio.append_jsonl), so a killed run
loses at most the requests in flight; a restart
with the same model, task, item, prompt, media and generation settings finds the key and does
not generate again. Failed generations are not cached: they are retried on the next run.
A torn last line (kill during a write) is ignored on reading.

Data-parallel runs (harness/distributed.py) give each rank a shard file of its own beside the main one
(`generations.rank{N}.jsonl`); every rank reads them all, so a rerun with any number of processes, or with
one, skips what any rank finished.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..fileio import FileFormat, append_jsonl, read_jsonl

# {key, task, item, response} per line; version 1 with or without format_version
RESPONSE_CACHE = FileFormat("response cache", 1)


def shard_path(path: Path, rank: int) -> Path:
    """The cache shard a data-parallel rank appends to."""
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


def cache_key(fields: dict) -> str:
    """sha256 over the canonical JSON of everything that determines a response."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: Path, shard: int | None = None):
        """`path` is the cache; `shard` (a data-parallel rank) makes this process append to its own shard file."""
        self.path = path if shard is None else shard_path(path, shard)
        self._entries: dict[str, str] = {}
        for file in (path, *sorted(path.parent.glob(f"{path.stem}.rank*{path.suffix}"))):
            if not file.is_file():
                continue
            # a torn tail is ignored; so is a damaged line elsewhere (caches written before append_jsonl isolated
            # a torn line with a newline): a lost line only means that response is generated again
            for entry in read_jsonl(file, skip_bad=True):
                if isinstance(entry.get("key"), str) and isinstance(entry.get("response"), str):
                    self._entries[entry["key"]] = entry["response"]

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> str | None:
        return self._entries.get(key)

    def append(self, entries: list[dict]) -> None:
        """Durably add {"key", "response", ...} entries (one group of completed responses)."""
        append_jsonl(self.path, RESPONSE_CACHE, entries)  # fsynced; a torn tail is cut first
        for e in entries:
            self._entries[e["key"]] = e["response"]
