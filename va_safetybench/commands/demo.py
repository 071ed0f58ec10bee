"""va-bench demo: the whole pipeline offline on the built-in demo questions and tiny models, both sides.

build (demo source; TYPO videos, espeak audio, TYPO images; DM/SD none) and the benign twins
(benign source, one question per scenario) into OUT/bench/benign; write a small MME-format
capability set drawn by code (capability/demo_set.py) into OUT/capability/mme -> one eval per model
(one model load): tiny:qwen2-vl on video + image safety tasks, MME and the video + image benign
twins; tiny:qwen2-audio on audio tasks and the audio twins; tiny:llava on image tasks, MME and the
image twins (default offline judge) -> OUT/runs/<model>/summary.json with `capability` and `over_refusal`
sections -> leaderboard site in OUT/site. The tiny models have random weights: the demo shows the
machinery works, its figures mean nothing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import replace
from pathlib import Path

HELP = "offline end-to-end demo: demo build -> tiny models -> offline judge -> leaderboard"

DEMO_RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tiny:qwen2-vl", ("va_video", "mm_safetybench", "mme", "benign_video_typo", "benign_image_typo")),
    ("tiny:qwen2-audio", ("va_audio", "benign_audio_kpt")),
    ("tiny:llava", ("mm_safetybench", "mme", "benign_image_typo")),
)
DEMO_MAX_NEW_TOKENS = 32  # random weights: longer answers only cost time
BENIGN_TASKS = ("va_video_typo", "va_audio_kpt", "mmsb_typo")  # the twins' renderings (capability/benign.py)
BENIGN_LIMIT = 1  # benign twins per scenario: a refusal rate over 8 per modality is enough to show the section


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo", type=Path, help="folder for bench/, runs/ and site/ (default: ./demo)")
    p.add_argument("--limit", type=int, default=None, help="first N demo items of each scenario (default: all)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="build worker processes")
    p.add_argument(
        "--judge", default=None, help="judge spec for every safety task (default: va-bench eval's default judge)"
    )


def build_demo_bench(bench: Path, source: str, tasks: list[str], limit: int | None, jobs: int) -> None:
    from ..materialize.runner import build
    from ..materialize.settings import BuildSettings
    from ..sources import load_items
    from .build import select_items

    items = select_items(load_items(source, ("va", "mmsb")), None, limit)
    report = build(items, tasks, bench, BuildSettings(tts="espeak", dm="none", sd="none"), jobs, source=source)
    print(
        f"{source} bench {bench}: {report.rendered} rendered, {report.skipped} up to date, {len(report.failed)} failed"
    )
    for failure in report.failed[:10]:
        print(f"  failed: {failure}", file=sys.stderr)


def render_site(runs: Path, site: Path) -> None:
    """The leaderboard through its own command line, when that command is installed."""
    try:
        module = importlib.import_module("va_safetybench.commands.leaderboard")
    except ModuleNotFoundError as exc:
        if exc.name != "va_safetybench.commands.leaderboard":
            raise
        print("leaderboard command not available: no site rendered")
        return
    parser = argparse.ArgumentParser(prog="va-bench leaderboard")
    module.add_arguments(parser)
    module.run(parser.parse_args([str(runs), "--out", str(site)]))


def run(args: argparse.Namespace) -> int:
    from ..capability.demo_set import write_demo_mme
    from ..errors import InputError
    from ..harness.evaluate import EvalRequest, run_eval
    from ..taskspec import TASKS
    from .eval import default_run_dir, print_summary

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    out: Path = args.out
    bench = out / "bench"
    jobs = max(1, args.jobs)
    build_demo_bench(bench, "demo", list(TASKS), args.limit, jobs)
    build_demo_bench(
        bench / "benign", "benign", list(BENIGN_TASKS), min(args.limit or BENIGN_LIMIT, BENIGN_LIMIT), jobs
    )
    mme = write_demo_mme(out / "capability" / "mme")
    for model, tasks in DEMO_RUNS:
        run_dir = out / "runs" / default_run_dir(model).name
        print(f"\n== {model} on {', '.join(tasks)} -> {run_dir}")
        request = EvalRequest(
            model=model,
            tasks=list(tasks),
            bench=bench,
            out=run_dir,
            max_new_tokens=DEMO_MAX_NEW_TOKENS,
            metadata={"mme_path": str(mme)},
        )
        result = run_eval(replace(request, judge=args.judge) if args.judge else request)
        print_summary(result.summary)
        print(f"{result.generated} generated, {result.cached} from cache, {result.errors} error(s)")
    render_site(out / "runs", out / "site")
    print(
        f"\ndemo finished: {out}/runs/*/summary.json. The tiny models have random weights: these ASR, MME and "
        f"refusal figures mean nothing; they only show that build, eval, judge, capability and leaderboard work "
        f"end to end."
    )
    return 0
