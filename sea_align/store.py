"""The embedding store: one safetensors file per item plus index lines, written so a kill loses nothing.

Each finished embedding is written to `emb/{id}.safetensors` (temp name, then rename) and only then
gets its line in `index.jsonl` (or `index.{rank}.jsonl` per process when sharded), so an id in any
index file is complete; restart skips exactly those.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from va_safetybench.errors import InputError


def read_index(out_dir: Path) -> dict[str, dict]:
    """All finished entries by id, across the per-process index files."""
    entries: dict[str, dict] = {}
    for path in sorted(out_dir.glob("index*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if n == len(lines):
                    continue  # a line cut by a kill: that embedding is redone
                raise InputError(f"{path}:{n}: not valid JSON") from None
            entries[entry["id"]] = entry
    return entries


def write_embedding(out_dir: Path, index_name: str, entry: dict, tensor: Any) -> None:
    from safetensors.torch import save_file

    emb_dir = out_dir / "emb"
    emb_dir.mkdir(parents=True, exist_ok=True)
    final = emb_dir / f"{entry['id']}.safetensors"
    tmp = final.with_suffix(".tmp")
    save_file({"embedding": tensor.detach().float().cpu().contiguous()}, str(tmp))
    tmp.replace(final)
    with open(out_dir / index_name, "a", encoding="utf-8") as f:
        f.write(json.dumps({**entry, "file": f"emb/{final.name}"}) + "\n")


def load_embedding(out_dir: Path, entry: dict) -> Any:
    from safetensors.torch import load_file

    path = out_dir / entry["file"]
    if not path.is_file():
        raise InputError(f"{path}: embedding file listed in the index is missing")
    return load_file(str(path))["embedding"]
