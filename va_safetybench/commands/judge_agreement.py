"""va-bench judge-agreement: how often two judges agree on a run's responses.

For each judge, reuses RUN_DIR/judgements-{judge}.jsonl when `va-bench judge` already wrote it
for the same judge version, else judges the stored responses now (and writes that file).
Prints the 3x3 confusion matrix (safe / unsafe / error) and Cohen's kappa over the responses
both judges labelled safe or unsafe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .judge import (
    add_judge_options,
    judge_options,
    judge_rows,
    judge_slug,
    read_jsonl,
    read_responses,
    write_judgements,
)

HELP = "compare two judges on a run's stored responses: confusion matrix and Cohen's kappa"
LABELS = ("safe", "unsafe", "error")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="a run directory written by va-bench eval")
    add_judge_options(p, "--judges", None, "two judge specs, comma-separated, e.g. keyword,gpt:gpt-4o-mini")


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa for two raters' binary labels; None with no pairs or when chance agreement is 1."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(a == b for a, b in pairs) / n
    expected = sum(
        (sum(a == c for a, _ in pairs) / n) * (sum(b == c for _, b in pairs) / n) for c in ("safe", "unsafe")
    )
    return None if expected == 1 else (observed - expected) / (1 - expected)


def _labels(spec: str, judge, args, rows) -> dict[tuple, str]:
    path = args.run_dir / f"judgements-{judge_slug(spec)}.jsonl"
    stored = read_jsonl(path) if path.is_file() else []
    if not stored or any(j.get("judge_version") != judge.version for j in stored) or len(stored) != len(rows):
        stored = judge_rows(judge, rows)
        write_judgements(args.run_dir, judge_slug(spec), stored)
    return {(j["task"], j["scenario"], j["id"]): j["label"] for j in stored}


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError

    specs = [s.strip() for s in args.judges.split(",") if s.strip()]
    if len(specs) != 2 or specs[0] == specs[1]:
        raise InputError(f"--judges: give two different judge specs separated by a comma, got {args.judges!r}")
    from judges.registry import make_judge

    from ..outdirs import writable_dir

    rows = read_responses(args.run_dir)
    writable_dir(args.run_dir, "RUN_DIR")
    judges = [make_judge(s, **judge_options(s, args, shared=True)) for s in specs]  # both checked before judging
    a, b = (_labels(s, j, args, rows) for s, j in zip(specs, judges))
    keys = sorted(a.keys() & b.keys())
    matrix = {(x, y): 0 for x in LABELS for y in LABELS}
    for k in keys:
        matrix[(a[k], b[k])] += 1
    width = max(len(specs[0]), 8)
    print(f"rows: {specs[0]}, columns: {specs[1]}, {len(keys)} responses")
    print(" " * width + "".join(f"{y:>8}" for y in LABELS))
    for x in LABELS:
        print(f"{x:<{width}}" + "".join(f"{matrix[(x, y)]:>8}" for y in LABELS))
    binary = [(a[k], b[k]) for k in keys if a[k] != "error" and b[k] != "error"]
    kappa = cohen_kappa(binary)
    agree = sum(x == y for x, y in binary)
    print(
        f"agreement on {len(binary)} responses both judged: {agree}/{len(binary)}"
        + (f" ({100 * agree / len(binary):.1f}%)" if binary else "")
    )
    print(
        "Cohen's kappa: "
        + ("undefined (no pairs, or both judges gave one label only)" if kappa is None else f"{kappa:.3f}")
    )
    return 0
