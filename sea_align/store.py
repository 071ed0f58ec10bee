"""The embedding store: one safetensors file per item plus index lines, written so a kill loses nothing.

Each finished embedding is written to `emb/{id}.safetensors` (temp name, then rename) and only then
gets its line in `index.jsonl` (or `index.{rank}.jsonl` per process when sharded), so an id in any
index file is complete; restart skips exactly those.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from va_safetybench.errors import InputError
from va_safetybench.fileio import FileFormat, append_jsonl, atomic_writer, jsonl_lines

# index.jsonl (index.RANK.jsonl under a launcher): one line per optimised embedding, its file under emb/
EMBEDDING_INDEX = FileFormat("SEA embedding index", 1)


def read_index(out_dir: Path) -> dict[str, dict]:
    """All finished entries by id, across the per-process index files."""
    entries: dict[str, dict] = {}
    for path in sorted(out_dir.glob("index*.jsonl")):
        for line in jsonl_lines(path):  # a line cut by a kill is ignored: that embedding is redone
            if "id" not in line.value:
                raise InputError(f"{line.where}: no 'id'")
            entries[line.value["id"]] = line.value
    return entries


def write_embedding(out_dir: Path, index_name: str, entry: dict, tensor: Any) -> None:
    from safetensors.torch import save_file

    emb_dir = out_dir / "emb"
    emb_dir.mkdir(parents=True, exist_ok=True)
    final = emb_dir / f"{entry['id']}.safetensors"
    with atomic_writer(final) as tmp:
        save_file({"embedding": tensor.detach().float().cpu().contiguous()}, str(tmp))
    append_jsonl(out_dir / index_name, EMBEDDING_INDEX, [{**entry, "file": f"emb/{final.name}"}])


def load_embedding(out_dir: Path, entry: dict) -> Any:
    from safetensors.torch import load_file

    path = out_dir / entry["file"]
    if not path.is_file():
        raise InputError(f"{path}: embedding file listed in the index is missing")
    return load_file(str(path))["embedding"]
