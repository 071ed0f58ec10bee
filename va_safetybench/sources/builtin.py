"""Built-in question sets (demo, benign twins), shipped as one JSON bundle each.

A bundle maps a path of the official layout ('va-safetybench/Video_questions/1-IllegalActivitiy.json')
to that file's content. Shipping one file per set keeps our own questions from looking like copies of
the official files in the repository; loading unpacks the bundle once into a cache folder in the
official layout, so the built-in sets go through exactly the loader and validation the official
files go through.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from .official import cache_base

PACKAGE = Path(__file__).resolve().parent.parent
BUNDLES = {
    "demo": PACKAGE / "demo_data" / "demo.json",
    "benign": PACKAGE / "capability" / "data" / "benign.json",
}


def builtin_source_dir(name: str) -> Path:
    """The folder holding built-in set `name` in the official layout, unpacked on first use."""
    raw = BUNDLES[name].read_bytes()
    target = cache_base() / "builtin" / f"{name}-{hashlib.sha256(raw).hexdigest()[:12]}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    for rel, content in json.loads(raw).items():
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    try:
        staging.rename(target)  # atomic: concurrent first uses either win or find it done
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target
