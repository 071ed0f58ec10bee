"""va-bench leaderboard: build the static results site from many runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..options import option

HELP = "build a static leaderboard site (works from file://) from summary.json files"


@dataclass
class Options:
    """`va-bench leaderboard`'s command line."""

    results: list[Path] = option(
        positional=True,
        nargs="+",
        metavar="RESULTS_DIR",
        help="run directories, or folders searched recursively for summary.json",
    )
    out: Path = option(metavar="SITE_DIR", help="folder to write the site into")


def run(args: Options) -> int:
    from leaderboard.results import find_summaries, load_summary
    from leaderboard.site import build_site
    from leaderboard.site_dir import claim

    from ..outdirs import writable_dir

    claim(args.out)  # a folder holding someone else's files, or a link where the site writes, is refused first
    writable_dir(args.out, "--out", inside=("models", "samples", "assets"))  # before reading every run
    runs = [load_summary(p) for p in find_summaries(args.results)]
    info = build_site(runs, args.out)
    print(
        f"leaderboard: {info.rows} row(s) from {len(runs)} run(s), {info.sample_files} sample file(s) -> "
        f"{(args.out / 'index.html').resolve().as_uri()}"
    )
    return 0
