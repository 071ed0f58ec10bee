"""va-bench build: materialise the benchmark media and manifests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from ..media.source_spec import NO_MEDIA, MediaSource, parse_dm, parse_media, parse_sd
from ..options import option

if TYPE_CHECKING:
    from ..materialize.settings import BuildSettings

HELP = "take the official release's media (--media hub) or render them, into the official layout, one manifest per task"


def split_names(value: str) -> list[str] | None:
    """'a, b,,c' -> ['a', 'b', 'c']; nothing named -> None (all)."""
    return [v.strip() for v in value.split(",") if v.strip()] or None


@dataclass
class Options:
    """`va-bench build`'s command line (options.py builds the flags from these fields)."""

    source: str = option("official", help="official (download) | demo (built in) | DIR (local copy)")
    out: Path = option(Path("bench_data"), help="bench directory to write (default: ./bench_data)")
    tasks: list[str] | None = option(None, help="comma-separated tasks or groups (default: all)", parse=split_names)
    scenarios: list[str] | None = option(
        None, help="comma-separated scenario names or numbers (default: all)", parse=split_names
    )
    limit: int | None = option(None, help="first N items of each scenario")
    tts: str = option("espeak", help="espeak (offline, espeak-ng) | edge (edge-tts, needs network)")
    voice: str | None = option(None, help="TTS voice (edge: e.g. en-US-AriaNeural; espeak: e.g. en-us)")
    media: MediaSource = option(
        NO_MEDIA,
        parse=parse_media,
        help="hub (download the official VA-SafetyBench video.zip / audio.zip and MM-SafetyBench images) | "
        "hub:PATH (a folder holding them, or the unzipped release) | none (render; default)",
    )
    dm: MediaSource = option(NO_MEDIA, parse=parse_dm, help="DM videos: hub | diffusers:MODEL | none")
    sd: MediaSource = option(NO_MEDIA, parse=parse_sd, help="SD images: hub | diffusers:MODEL | none")
    scene_llm: str | None = option(None, help="OpenAI-compatible model that writes DM scene prompts")
    font: str | None = option(None, help="TTF font for typography (default: Liberation Sans)")
    seed: int = option(0, help="seed of everything random in the media: white noise, diffusion")
    device: str | None = option(None, help="torch device for diffusers backends")
    jobs: int = option(factory=lambda: os.cpu_count() or 1, help="worker processes (default: all cores)")
    check: bool = option(False, help="only re-verify an existing bench directory")


def select_items(items, scenarios: list[str] | None, limit: int | None):
    """Filter by scenario (name or number, either benchmark) and keep the first `limit` per scenario."""
    from ..errors import InputError
    from ..scenarios import MM_SCENARIOS, VA_SCENARIOS, match_scenarios

    if scenarios:
        chosen = match_scenarios(scenarios, VA_SCENARIOS + MM_SCENARIOS)
        unknown = [s for s in scenarios if not match_scenarios([s], VA_SCENARIOS + MM_SCENARIOS)]
        if unknown:
            raise InputError(
                f"--scenarios: unknown scenario {unknown[0]!r}; valid: {', '.join(VA_SCENARIOS + MM_SCENARIOS)}"
            )
        items = [i for i in items if i.scenario in chosen]
    if limit is not None:
        if limit < 1:
            raise InputError("--limit must be at least 1")
        seen: dict[tuple[str, str], int] = {}
        kept = []
        for item in items:
            key = (item.benchmark, item.scenario)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= limit:
                kept.append(item)
        items = kept
    return items


def build_settings(args: Options) -> BuildSettings:
    """The options that decide what the media look like (they go into every rendered file's recipe hash): each
    field of BuildSettings is the option of the same name."""
    from ..materialize.settings import BuildSettings

    return BuildSettings(**{f.name: getattr(args, f.name) for f in fields(BuildSettings)})


def run(args: Options) -> int:
    from ..errors import InputError
    from ..sources import load_items
    from ..taskspec import TASKS, expand_tasks

    if args.check:
        from ..materialize.check import check_bench

        checked, problems = check_bench(args.out)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"checked {checked} manifest entries in {args.out}: {len(problems)} problem(s)")
        return 1 if problems else 0

    if args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    if args.media.kind != "none" and (args.dm.kind, args.sd.kind) != ("none", "none"):
        raise InputError(f"--media {args.media} takes every task's media from the official release: drop --dm / --sd")
    tasks = expand_tasks(args.tasks)
    official = "hub" in (args.media.kind, args.dm.kind, args.sd.kind)
    if not official and str(args.source) != "demo" and any(TASKS[t].media for t in tasks):
        print(
            "note: the media are rendered here (speech as 16 kHz wav, typography in Liberation Sans), not the official "
            "release's files; "
            "pass --media hub (or --media hub:DIR) to build with those",
            file=sys.stderr,
        )
    benchmarks = tuple(sorted({TASKS[t].benchmark for t in tasks}))
    items = select_items(load_items(args.source, benchmarks), args.scenarios, args.limit)
    from ..materialize.runner import build

    report = build(items, tasks, args.out, build_settings(args), args.jobs, source=str(args.source))
    print(
        f"built {args.out}: {report.rendered} rendered, {report.skipped} up to date, "
        f"{len(report.failed)} failed, {report.seconds:.1f}s"
    )
    for task, note in report.notes.items():
        print(f"  {task}: {note}")
    for task, reason in report.unavailable.items():
        print(f"  {task}: unavailable ({reason})")
    for failure in report.failed[:20]:
        print(f"  failed: {failure}", file=sys.stderr)
    return 1 if report.failed else 0
