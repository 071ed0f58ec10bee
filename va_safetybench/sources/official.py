"""Download the official question files from upstream GitHub into a cache.

Each file's sha256 is recorded in `checksums.json` beside it at download time; later loads
re-verify it, so a cache edited or truncated by accident is caught instead of silently used.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..fileio import atomic_write
from ..scenarios import MM_SCENARIOS, VA_SCENARIOS
from .layout import VA_KINDS, mm_file, va_file

SEA_RAW = "https://raw.githubusercontent.com/ZeroNLP/SEA/{ref}/VA-SafetyBench/{kind}/{scenario}.json"
MMSB_RAW = "https://raw.githubusercontent.com/isXinLiu/MM-SafetyBench/{ref}/data/processed_questions/{scenario}.json"
SEA_REF = os.environ.get("VA_BENCH_SEA_REF", "main")
MMSB_REF = os.environ.get("VA_BENCH_MMSB_REF", "main")
CHECKSUMS = "checksums.json"


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
    sums: dict[str, dict] = json.loads(sums_path.read_text()) if sums_path.exists() else {}
    for path, url in official_urls(cache).items():
        rel = str(path.relative_to(cache))
        if path.exists() and rel in sums and _sha256(path.read_bytes()) == sums[rel]["sha256"]:
            continue
        data = download(url, deadline=timeout, offline=OFFLINE_HINT)  # bounded in time and size: netlimits
        atomic_write(path, data)
        sums[rel] = {"url": url, "sha256": _sha256(data)}
        atomic_write(sums_path, json.dumps(sums, indent=1, sort_keys=True))
    return cache
