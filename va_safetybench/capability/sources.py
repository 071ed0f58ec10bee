"""Where a capability benchmark's data comes from: a local copy or the Hugging Face hub.

Local copies take precedence, so offline machines and CI never touch the network:
  1. lm-eval task metadata key `<name>_path` (e.g. `--metadata '{"mme_path": "/data/mme"}'`);
  2. `<root>/<name>/` where root is metadata `capability_data` or the env var VA_CAPABILITY_DATA;
  3. the hub dataset (`datasets.load_dataset`), where the benchmark has one.
A local copy is a file or a folder of files in the hub dataset's own format: parquet (as the hub
stores it, images as {bytes, path} structs), jsonl, json, csv or tsv (MMBench's TSV with base64
images).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError

DATA_ENV = "VA_CAPABILITY_DATA"
TABLE_EXTS = (".parquet", ".jsonl", ".json", ".csv", ".tsv")


def local_copy(name: str, metadata: dict[str, Any]) -> Path | None:
    """The local file or folder for benchmark `name`, or None to use the hub."""
    explicit = metadata.get(f"{name}_path")
    if explicit:
        path = Path(str(explicit)).expanduser()
        if not path.exists():
            raise InputError(f"{name}_path {path}: no such file or folder")
        return path
    root = metadata.get("capability_data") or os.environ.get(DATA_ENV)
    if root and (Path(str(root)).expanduser() / name).exists():
        return Path(str(root)).expanduser() / name
    return None


def table_files(path: Path, stem_filter: str | None = None) -> list[Path]:
    """A file, or the table files under a folder (sorted; optionally only names containing `stem_filter`)."""
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in TABLE_EXTS and p.is_file())
    if stem_filter:
        files = [p for p in files if stem_filter in p.name]
    if not files:
        raise InputError(
            f"{path}: no {'/'.join(TABLE_EXTS)} files" + (f" named *{stem_filter}*" if stem_filter else "")
        )
    return files


def read_rows(path: Path, stem_filter: str | None = None) -> list[dict]:
    """All rows of the table file(s) at `path`, in file order."""
    rows: list[dict] = []
    for f in table_files(path, stem_filter):
        suffix = f.suffix.lower()
        try:
            if suffix == ".parquet":
                import pyarrow.parquet as pq

                rows.extend(pq.read_table(f).to_pylist())
            elif suffix == ".jsonl":
                rows.extend(json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
            elif suffix == ".json":
                data = json.loads(f.read_text(encoding="utf-8"))
                rows.extend(data if isinstance(data, list) else data.values())
            else:
                with open(f, newline="", encoding="utf-8") as fh:
                    rows.extend(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
        except (ValueError, OSError) as exc:
            raise InputError(f"{f}: unreadable ({exc})") from None
    return rows


def hub_rows(
    name: str, hub_id: str, split: str, config: str | None = None, raw_images: bool = False, raw_audio: bool = False
) -> list[dict]:
    """Rows of a hub dataset split; offline or missing, the error says how to point at a local copy.

    raw_images / raw_audio keep the `image` / `audio` column undecoded ({bytes, path}), as a local
    parquet copy holds it, so both paths yield the same rows.
    """
    import datasets

    try:
        ds = datasets.load_dataset(hub_id, config, split=split)
        if raw_images:
            ds = ds.cast_column("image", datasets.Image(decode=False))
        if raw_audio:
            ds = ds.cast_column("audio", datasets.Audio(decode=False))
    except Exception as exc:  # noqa: BLE001  (network, auth, missing split: all mean "use a local copy")
        raise InputError(
            f"{name}: cannot load hub dataset {hub_id} ({type(exc).__name__}); give a local copy "
            f"with --metadata '{{\"{name}_path\": DIR}}' or {DATA_ENV}=ROOT (ROOT/{name}/)"
        ) from None
    return [dict(row) for row in ds]


def image_bytes(value: Any, base: Path | None = None) -> bytes:
    """Encoded image bytes from a hub/parquet struct {bytes, path}, a PIL image, a file path or base64 text."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        value = value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if hasattr(value, "save"):  # PIL, as `datasets` decodes Image features
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return buf.getvalue()
    if isinstance(value, str) and value:
        path = Path(value) if base is None else base / value
        try:
            if path.is_file():
                return path.read_bytes()
        except OSError:  # base64 text (the OpenCompass TSV) is far longer than a file name may be
            pass
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            pass
    raise InputError(f"image {str(value)[:80]!r}: neither bytes, a file nor base64")
