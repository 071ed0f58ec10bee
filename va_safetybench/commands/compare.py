"""va-bench compare: runs side by side (a base model and its aligned checkpoints), per task, with what changed."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..options import option
from .regress import metric_option

HELP = (
    "per task, each run's ASR with its 95%% interval and its change against the first run, significant or not "
    "(regress's test, two-sided); capability and over-refusal beside; refuses runs that are not comparable"
)


@dataclass
class Options:
    """`va-bench compare`'s command line."""

    runs: list[Path] = option(
        positional=True,
        nargs="+",
        metavar="RUN",
        help="run directories or summary.json files; the first is the one the others are set against",
    )
    metric: str = metric_option()
    alpha: float = option(0.05, help="significance level of each task's test (default 0.05)")
    json: Path | None = option(None, metavar="FILE", help="also write the comparison as JSON ('-': stdout only)")


def run(args: Options) -> int:
    from leaderboard.compare import COMPARISON, compare_runs, text_report, to_json
    from leaderboard.results import load_summary

    from ..fileio import write_json

    comparison = compare_runs([load_summary(p) for p in args.runs], args.metric, args.alpha)
    if args.json is not None and str(args.json) == "-":
        sys.stdout.write(json.dumps(to_json(comparison), indent=1) + "\n")
        return 0
    sys.stdout.write(text_report(comparison))
    if args.json is not None:
        write_json(args.json, COMPARISON, to_json(comparison))
        print(f"comparison written to {args.json}")
    return 0
