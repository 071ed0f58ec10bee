"""dataset: alignment records that pair each synthetic embedding with its detoxified instruction.

prompt = "The image shows an activity (product). Please understand the content and answer the
following question." + detoxified instruction; the embedding stands in for the encoder output.
DPO records keep chosen (safe) and rejected (unsafe); SFT records keep the safe response. Real
multimodal samples can be mixed in: `--mix FILE.jsonl` with {prompt, chosen, rejected|response,
media: the image / video / audio file, and optionally embedding: a safetensors file whose `embedding`
tensor [T, H] is that file's precomputed encoder output}. The media file is needed either way: it fixes
how many placeholder tokens the row has (and Qwen2-VL's grid); without `embedding`, train runs the frozen
encoder on it once. Paths are relative to the mix file.
"""

from __future__ import annotations

from pathlib import Path

from va_safetybench.errors import InputError
from va_safetybench.fileio import FileFormat, jsonl_lines, write_jsonl

from .settings import SeaSettings
from .store import read_index

DATASET = FileFormat("SEA dataset", 1)  # dataset.jsonl: one SFT or DPO record per line


def build(
    prepared: list[dict],
    emb_dir: Path,
    settings: SeaSettings,
    method: str,
    out: Path,
    *,
    only_success: bool = False,
    mix: Path | None = None,
) -> int:
    if method not in ("dpo", "sft"):
        raise InputError(f"--method: {method!r} must be dpo or sft")
    index = read_index(emb_dir)
    records = []
    for item in prepared:
        entry = index.get(item["id"])
        if entry is None or (only_success and not entry["success"]):
            continue
        rec = {
            "id": item["id"],
            "embedding": str((emb_dir / entry["file"]).resolve()),
            "prompt": f"{settings.align_prefix(item['type'])} {item['detoxified']}",
        }
        records.append({**rec, **_answers(item, method)})
    if mix is not None:
        records += _read_mix(mix, method)
    if not records:
        raise InputError(f"{emb_dir}: no optimised embeddings match the prepared items")
    write_jsonl(out, DATASET, records)
    return len(records)


def text_only_records(prepared: list[dict], method: str) -> list[dict]:
    """The text-only baseline's records: each prepared item's own instruction with its safe (and unsafe) response,
    no medium and no embedding, so that the same SFT/DPO on the same text measures what SEA adds."""
    if not prepared:
        raise InputError("no prepared items to train the text-only baseline on (run `sea-align prepare` first)")
    return [{"id": it["id"], "prompt": it["prompt"], **_answers(it, method)} for it in prepared]


def _answers(item: dict, method: str) -> dict:
    """What a record trains towards: chosen and rejected (DPO) or the safe response (SFT)."""
    return {"chosen": item["chosen"], "rejected": item["rejected"]} if method == "dpo" else {"response": item["chosen"]}


def _read_mix(path: Path, method: str) -> list[dict]:
    if not path.is_file():
        raise InputError(f"--mix: {path} does not exist")
    need = ("prompt", "media", "chosen", "rejected") if method == "dpo" else ("prompt", "media", "response")
    rows = []
    for line in jsonl_lines(path):  # every line an object; a bad byte, JSON or line is named
        row, where = line.value, line.where
        missing = [k for k in need if k not in row]
        if missing:
            raise InputError(f"{where}: missing {', '.join(missing)}")
        optional = [k for k in ("embedding", "id") if row.get(k) is not None]
        wrong = [k for k in (*need, *optional) if not isinstance(row[k], str)]
        if wrong:
            raise InputError(f"{where}: {wrong[0]!r} must be a string, found {type(row[wrong[0]]).__name__}")
        if not row["media"].strip():
            raise InputError(f"{where}: 'media' names no file")
        files = {k: _beside(path, row[k]) for k in ("media", "embedding") if row.get(k)}
        for key, file in files.items():
            if not Path(file).is_file():
                raise InputError(f"{where}: {key} file {file} does not exist")
        rows.append({"id": row.get("id") or f"mix-{line.number}", **{k: row[k] for k in need}, **files})
    return rows


def _beside(mix_file: Path, name: str) -> str:
    file = Path(name)
    return str((file if file.is_absolute() else mix_file.parent / file).resolve())
