"""Download the official question files from upstream GitHub into a cache.

Each file's sha256 is recorded in `checksums.json` beside it at download time; later loads
re-verify it, so a cache edited or truncated by accident is caught instead of silently used.
checksums.json: {"format_version": 2, "files": {relative path: {"url", "sha256"}}}; version 1 (no format_version)
was the `files` mapping alone.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..fileio import FileFormat, atomic_write, write_json
from ..scenarios import MM_SCENARIOS, VA_SCENARIOS
from .layout import VA_KINDS, mm_file, va_file

SEA_RAW = "https://raw.githubusercontent.com/ZeroNLP/SEA/{ref}/VA-SafetyBench/{kind}/{scenario}.json"
MMSB_RAW = "https://raw.githubusercontent.com/isXinLiu/MM-SafetyBench/{ref}/data/processed_questions/{scenario}.json"
SEA_REF = os.environ.get("VA_BENCH_SEA_REF", "main")
MMSB_REF = os.environ.get("VA_BENCH_MMSB_REF", "main")
CHECKSUMS = "checksums.json"
CHECKSUMS_FORMAT = FileFormat("question-file checksums", 2)


def cache_base() -> Path:
    """Root of everything the sources cache: $VA_BENCH_CACHE, else ~/.cache/va-safetybench."""
    return Path(os.environ.get("VA_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "va-safetybench"))


OFFLINE_HINT = (
    "without network pass --source DIR with the question files laid out as va-safetybench/{Video,Audio}_questions/ "
    "and mm-safetybench/processed_questions/"
)


def default_cache_dir() -> Path:
    return cache_base() / "questions"


def official_urls(cache: Path) -> dict[Path, str]:
    """Local cache path -> upstream URL for every official question file."""
    urls: dict[Path, str] = {}
    for kind in VA_KINDS:
        for s in VA_SCENARIOS:
            urls[va_file(cache, kind, s)] = SEA_RAW.format(ref=SEA_REF, kind=kind, scenario=s)
    for s in MM_SCENARIOS:
        urls[mm_file(cache, s)] = MMSB_RAW.format(ref=MMSB_REF, scenario=s)
    return urls


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_official(cache: Path | None = None, timeout: float = 30.0) -> Path:
    """Make sure every official file is in `cache` with a matching checksum; return the cache root."""
    from ..netlimits import download

    cache = cache or default_cache_dir()
    sums_path = cache / CHECKSUMS
    sums = read_checksums(sums_path)
    for path, url in official_urls(cache).items():
        rel = str(path.relative_to(cache))
        if path.exists() and rel in sums and _sha256(path.read_bytes()) == sums[rel]["sha256"]:
            continue
        data = download(url, deadline=timeout, offline=OFFLINE_HINT)  # bounded in time and size: netlimits
        atomic_write(path, data)  # upstream's file as it came (not a format of ours)
        sums[rel] = {"url": url, "sha256": _sha256(data)}
        write_json(sums_path, CHECKSUMS_FORMAT, {"files": sums}, sort_keys=True)
    return cache


def read_checksums(path: Path) -> dict[str, dict]:
    """{relative path: {"url", "sha256"}} from checksums.json, in either version; {} without one (or an unreadable
    one: every file is then fetched and checked again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    files = data.get("files") if CHECKSUMS_FORMAT.version_of(data, str(path)) >= 2 else data
    return {k: v for k, v in (files or {}).items() if isinstance(v, dict) and isinstance(v.get("sha256"), str)}
