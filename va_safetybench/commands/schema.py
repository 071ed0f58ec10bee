"""va-bench schema: the JSON Schemas of the files the stages exchange (va_safetybench/records), for users' own tools."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..options import option

HELP = "print or write the JSON Schemas of summary.json, responses.jsonl, judgements and manifest lines"


@dataclass
class Options:
    """`va-bench schema`'s command line."""

    names: list[str] = option(
        factory=list,
        positional=True,
        nargs="*",
        metavar="NAME",
        help="summary, response, judgement, manifest-entry (default: all)",
    )
    out: Path | None = option(None, help="write NAME.schema.json files into this folder")


def run(args: Options) -> int:
    from ..errors import InputError
    from ..fileio import atomic_write
    from ..outdirs import writable_dir
    from ..records import RECORDS

    names = args.names or list(RECORDS)
    unknown = [n for n in names if n not in RECORDS]
    if unknown:
        raise InputError(f"unknown record {unknown[0]!r}; known: {', '.join(RECORDS)}")
    schemas = {name: RECORDS[name].json_schema() for name in names}
    if args.out is None:
        json.dump(schemas[names[0]] if len(names) == 1 else schemas, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    writable_dir(args.out, "--out")
    for name, schema in schemas.items():
        atomic_write(args.out / f"{name}.schema.json", json.dumps(schema, indent=1) + "\n")  # JSON Schema's format
        print(f"wrote {args.out / f'{name}.schema.json'}")
    return 0
