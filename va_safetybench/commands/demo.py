"""va-bench demo: the whole pipeline offline on the built-in demo questions and tiny models, both sides.

build (demo source; TYPO videos, espeak audio, TYPO images; DM/SD none) and the benign twins
(benign source, one question per scenario) into OUT/bench/benign; write a small MME-format
capability set drawn by code (capability/demo_set.py) into OUT/capability/mme -> one eval per model
(one model load): tiny:qwen2-vl on video + image safety tasks, MME and the video + image benign
twins; tiny:qwen2-audio on audio tasks and the audio twins; tiny:llava on image tasks, MME and the
image twins (the default judge) -> OUT/runs/<model>/summary.json with `capability` and `over_refusal`
sections. Then the loop the product exists for: `sea-align run --preset quick` aligns tiny:qwen2-vl on its
image input from the demo questions (OUT/sea/checkpoint, seconds), `va-bench eval` scores the aligned checkpoint on
the image safety tasks, MME and the image twins (OUT/runs/tiny_qwen2-vl-sea-dpo), and `va-bench compare` sets it
against the base run (printed, OUT/compare.json) -> leaderboard site in OUT/site, with the comparison page. The tiny
models have random weights: the demo shows the machinery works, its figures mean nothing.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from judges.registry import JudgeSpec

from ..options import option

HELP = "offline end-to-end demo: demo build -> tiny models -> offline judge -> SEA on one -> eval -> compare -> leaderboard"

DEMO_RUNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tiny:qwen2-vl", ("va_video", "mm_safetybench", "mme", "benign_video_typo", "benign_image_typo")),
    ("tiny:qwen2-audio", ("va_audio", "benign_audio_kpt")),
    ("tiny:llava", ("mm_safetybench", "mme", "benign_image_typo")),
)
DEMO_MAX_NEW_TOKENS = 32  # random weights: longer answers only cost time
# The loop: the demo's Qwen2-VL aligned by SEA on its image input, then scored where that shows (the image safety
# tasks) and where it must not cost (MME, the image benign twins), then compared with its base run.
SEA_BASE, SEA_MODALITY = "tiny:qwen2-vl", "image"
SEA_OPTIONS = ("--preset", "quick", "--max-steps", "4", "--max-response-tokens", "16")  # seconds on a CPU
SEA_TASKS = ("mm_safetybench", "mme", "benign_image_typo")
SEA_RUN = "tiny_qwen2-vl-sea-dpo"
BENIGN_TASKS = ("va_video_typo", "va_audio_kpt", "mmsb_typo")  # the twins' renderings (capability/benign.py)
BENIGN_LIMIT = 1  # benign twins per scenario: a refusal rate over 8 per modality is enough to show the section


@dataclass
class Options:
    """`va-bench demo`'s command line."""

    out: Path = option(Path("demo"), help="folder for bench/, runs/ and site/ (default: ./demo)")
    limit: int | None = option(None, help="first N demo items of each scenario (default: all)")
    jobs: int = option(factory=lambda: os.cpu_count() or 1, help="build worker processes")
    threads: int = option(
        1,
        help="torch threads for the tiny models (default 1: they gain nothing from more, and on a busy machine "
        "threads spinning for each other cost: the whole demo took 15.5 min with 2 threads, 5 min with 1, on a shared "
        "2-core machine)",
    )
    judge: JudgeSpec | None = option(
        None, parse=JudgeSpec.parse, help="judge spec for every safety task (default: va-bench eval's default judge)"
    )


def build_demo_bench(bench: Path, source: str, tasks: list[str], limit: int | None, jobs: int) -> None:
    from ..materialize.runner import build
    from ..materialize.settings import BuildSettings
    from ..sources import load_items
    from .build import select_items

    items = select_items(load_items(source, ("va", "mmsb")), None, limit)
    report = build(items, tasks, bench, BuildSettings(tts="espeak"), jobs, source=source)
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
    module.run(module.Options(results=[runs], out=site))


def run(args: Options) -> int:
    from ..capability.demo_set import write_demo_mme
    from ..errors import InputError
    from ..harness.evaluate import EvalRequest, default_run_dir, run_eval
    from ..models.registry import ModelSpec
    from ..taskspec import TASKS
    from .eval import print_summary

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    if args.threads < 1:
        raise InputError("--threads must be at least 1")
    import torch

    torch.set_num_threads(args.threads)
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
            model=ModelSpec.parse(model),
            tasks=list(tasks),
            bench=bench,
            out=run_dir,
            max_new_tokens=DEMO_MAX_NEW_TOKENS,
            metadata={"mme_path": str(mme)},
        )
        result = run_eval(replace(request, judge=args.judge) if args.judge else request)
        print_summary(result.summary)
        print(f"{result.generated} generated, {result.cached} from cache, {result.errors} error(s)")
    align_evaluate_compare(out, bench, mme, args.judge)
    render_site(out / "runs", out / "site")
    print(
        f"\ndemo finished: {out}/runs/*/summary.json, {out}/compare.json, {out}/site/index.html. The tiny models "
        f"have random weights: these ASR, MME and refusal figures, and the changes alignment made to them, mean "
        f"nothing; they only show that build, eval, judge, capability, alignment, comparison and leaderboard work "
        f"end to end."
    )
    return 0


def align_evaluate_compare(out: Path, bench: Path, mme: Path, judge: JudgeSpec | None) -> None:
    """SEA on the demo's Qwen2-VL, its checkpoint evaluated (by the base run's judge), and base against aligned."""
    from leaderboard.compare import COMPARISON, compare_runs, text_report, to_json
    from leaderboard.results import load_summary
    from sea_align.cli import main as sea_align

    from ..errors import CheckFailed
    from ..fileio import write_json
    from ..harness.evaluate import EvalRequest, default_run_dir, run_eval
    from ..models.registry import ModelSpec
    from ..models.tiny import TINY_PIXELS
    from .eval import print_summary

    work = out / "sea"
    print(f"\n== sea-align run: {SEA_BASE} aligned on its {SEA_MODALITY} input from the demo questions -> {work}")
    args = ["run", "--model", SEA_BASE, "--modality", SEA_MODALITY, "--data", "demo", "--out", str(work)]
    code = sea_align([*args, *SEA_OPTIONS])
    if code:
        raise CheckFailed(f"the demo's alignment (sea-align run --out {work}) failed with exit status {code}")
    aligned = out / "runs" / SEA_RUN
    print(f"\n== hf:{work / 'checkpoint'} on {', '.join(SEA_TASKS)} -> {aligned}")
    request = EvalRequest(
        model=ModelSpec("hf", str(work / "checkpoint")),
        tasks=list(SEA_TASKS),
        bench=bench,
        out=aligned,
        model_args={"dtype": "float32", **TINY_PIXELS},  # the frames and images the base run saw
        max_new_tokens=DEMO_MAX_NEW_TOKENS,
        metadata={"mme_path": str(mme)},
    )
    result = run_eval(replace(request, judge=judge) if judge else request)
    print_summary(result.summary)
    base = out / "runs" / default_run_dir(SEA_BASE).name
    comparison = compare_runs([load_summary(base), load_summary(aligned)])
    print(f"\n== va-bench compare {base} {aligned}\n{text_report(comparison)}", end="")
    write_json(out / "compare.json", COMPARISON, to_json(comparison))
