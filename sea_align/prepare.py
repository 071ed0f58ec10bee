"""prepare: text safety pairs -> harmful phrase, type, detoxified instruction and control samples.

Writes `prepared.jsonl`, one line per usable item: id, prompt, chosen, rejected, phrase, type,
sentence, detoxified, modality, controls [{question, target}] (content control, then style control).
Items whose phrase cannot be located in the instruction are dropped and counted.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

from va_safetybench.fileio import FileFormat, write_jsonl

from .extract import Phrase, detoxify
from .settings import SeaSettings
from .textdata import SafetyPair

log = logging.getLogger("sea_align")


def controls(phrase: Phrase, item_id: str, settings: SeaSettings) -> list[dict]:
    """Content control (names the phrase) and style control (a style from the set, fixed per item)."""
    style = settings.styles[zlib.crc32(item_id.encode()) % len(settings.styles)]
    prefix = settings.prefix()
    return [
        {
            "kind": "content",
            "question": settings.content_question(phrase.type),
            "target": f"{prefix} {phrase.sentence}.",
        },
        {"kind": "style", "question": settings.style_question(), "target": f"{prefix} {style}."},
    ]


def prepare(pairs: list[SafetyPair], extractor, settings: SeaSettings, out: Path) -> dict:
    kept = dropped = 0
    records = []
    for pair in pairs:
        phrase = extractor(pair.prompt)
        detox = detoxify(pair.prompt, phrase)
        if detox is None:
            dropped += 1
            continue
        records.append(
            {
                "id": pair.id,
                "prompt": pair.prompt,
                "chosen": pair.chosen,
                "rejected": pair.rejected,
                "phrase": phrase.text,
                "type": phrase.type,
                "sentence": phrase.sentence,
                "detoxified": detox,
                "modality": settings.modality,
                "controls": controls(phrase, pair.id, settings),
            }
        )
        kept += 1
    write_jsonl(out, PREPARED, records)
    log.info(
        "prepare: %d items kept, %d dropped (phrase not found in the instruction), extractor %s",
        kept,
        dropped,
        getattr(extractor, "name", "?"),
    )
    return {"kept": kept, "dropped": dropped, "fallbacks": getattr(extractor, "fallbacks", 0)}


PREPARED = FileFormat("SEA prepared items", 1)  # prepared.jsonl: one item per line (see prepare)
PREPARED_TEXT = ("id", "prompt", "chosen", "rejected", "phrase", "type", "detoxified")  # what later stages read


def read_prepared(path: Path) -> list[dict]:
    """prepared.jsonl's items (a torn last line, left by a kill, is ignored); InputError naming the file, line and
    field of an item a later stage could not use (a hand-edited or damaged line)."""
    from va_safetybench.errors import InputError
    from va_safetybench.fileio import jsonl_lines

    if not path.is_file():
        raise InputError(f"{path}: no prepared items (run `sea-align prepare` first)")
    items = []
    for line in jsonl_lines(path):
        for key in PREPARED_TEXT:
            if not isinstance(line.value.get(key), str):
                raise InputError(f"{line.where}: {key!r} must be a string (rerun `sea-align prepare`)")
        if not isinstance(line.value.get("controls", []), list):
            raise InputError(f"{line.where}: 'controls' must be a list (rerun `sea-align prepare`)")
        items.append(line.value)
    return items
