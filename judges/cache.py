"""A persistent verdict cache (sqlite): a re-run of the same judge on the same text sends nothing.

Keys are sha256(judge version, endpoint, model, exact prompt text sent): the same model name on
another server (a local vLLM, a gateway, OpenAI) is another judge, so its verdicts are its own. Values
are the parsed label, the judge's raw answer and the categories; never an API key, a base URL or a
header. Only parsed answers are stored: errors (transport or unparsable) are retried on the next run.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from va_safetybench.errors import InputError
from va_safetybench.fileio import FileFormat, open_sqlite
from va_safetybench.outdirs import writable_dir

from .base import Verdict

DEFAULT_CACHE_DIR = Path("~/.cache/va-safetybench/judge")
# table verdicts(key, label, raw, categories); the version in sqlite's user_version (0: before versions, the same)
VERDICT_CACHE = FileFormat("judge verdict cache", 1)


def cache_key(version: str, endpoint: str, model: str, prompt: str) -> str:
    h = hashlib.sha256()
    for part in (version, endpoint, model, prompt):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


class VerdictCache:
    def __init__(self, cache_dir: Path | str | None, filename: str) -> None:
        root = writable_dir(Path(cache_dir or DEFAULT_CACHE_DIR).expanduser(), "judge cache_dir")
        self.path = root / filename
        try:
            self._db = open_sqlite(self.path, VERDICT_CACHE)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, label TEXT NOT NULL, "
                "raw TEXT NOT NULL, categories TEXT NOT NULL)"
            )
            self._db.commit()
        except sqlite3.Error as exc:  # not a database, read-only, locked
            raise InputError(f"judge cache {self.path}: unusable ({exc}); pass cache_dir= or use_cache=false") from None

    def get_many(self, keys: list[str]) -> dict[str, Verdict]:
        found: dict[str, Verdict] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, label, raw, cats in self._db.execute(
                f"SELECT key, label, raw, categories FROM verdicts WHERE key IN ({marks})", chunk
            ):
                found[key] = Verdict(label, raw, tuple(c for c in cats.split(",") if c))
        return found

    def put(self, key: str, verdict: Verdict) -> None:
        if verdict.label == "error":
            return
        self._db.execute(
            "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)",
            (key, verdict.label, verdict.raw, ",".join(verdict.categories)),
        )

    def commit(self) -> None:
        self._db.commit()
