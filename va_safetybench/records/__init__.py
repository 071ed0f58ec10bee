"""Typed, versioned records of every file one stage hands to another, and their JSON Schemas.

    ManifestEntry  BENCH/manifests/{task}.jsonl, one per line        written by va-bench build
    ResponseRow    RUN_DIR/responses.jsonl, one per line             written by va-bench eval
    Judgement      RUN_DIR/judgements-{judge}.jsonl, one per line    written by va-bench judge (and lm-eval's filter)
    Summary        RUN_DIR/summary.json, summary-{judge}.json        written by eval, judge and capability runs

Each is written with `format_version` and read by `from_json` / `load` / `load_lines`, which name the file, line and
field of anything wrong; what older versions wrote is upgraded in the record's `upgrade`, nowhere else.
`schemas()` gives their JSON Schemas (`va-bench schema` prints or writes them) for users' own tools.
"""

from __future__ import annotations

from typing import Any

from .base import FORMAT_FIELD, Part, Record, RecordError
from .manifest import ManifestEntry, manifest_digest, unversioned
from .responses import ItemVerdict, JudgeIdentity, Judgement, ResponseRow
from .summary import REFUSAL_JUDGES, BenchFingerprint, Cell, GroupScores, RefusalRates, Summary, TaskCounts

RECORDS: dict[str, type[Record]] = {r.FORMAT: r for r in (ManifestEntry, ResponseRow, Judgement, Summary)}


def schemas() -> dict[str, dict[str, Any]]:
    """{record name: its JSON Schema (draft 2020-12)} for every record written."""
    return {name: record.json_schema() for name, record in RECORDS.items()}


__all__ = [
    "FORMAT_FIELD",
    "RECORDS",
    "REFUSAL_JUDGES",
    "BenchFingerprint",
    "Cell",
    "GroupScores",
    "ItemVerdict",
    "JudgeIdentity",
    "Judgement",
    "ManifestEntry",
    "Part",
    "Record",
    "RecordError",
    "RefusalRates",
    "ResponseRow",
    "Summary",
    "TaskCounts",
    "manifest_digest",
    "schemas",
    "unversioned",
]
