"""va-bench judge-agreement: how often judges agree with each other on a run, or with people on a labelled set.

Two judges on a run (`RUN_DIR --judges A,B`): reuses RUN_DIR/judgements-{judge}.jsonl when `va-bench judge` already
wrote it for the same judge version, else judges the stored responses now (and writes that file); prints the 3x3
confusion matrix (safe / unsafe / error) and Cohen's kappa over the responses both judges labelled safe or unsafe.

Judges against people (`--human SET [--human SET ..] [--judges A,B,..] [--json OUT]`): SET is a JSONL of
{"prompt", "response", "human_label"} or a public set's name (judges.human_sets.PUBLIC_SETS, downloaded at a
pinned commit and checked by sha256). Per set and judge: accuracy, Cohen's kappa with a 95% interval, the confusion
matrix, the false-unsafe and false-safe rates and the ASR bias, and the same per source model where the set names
one (judges.agreement says how each is counted). Without --judges: every judge that runs offline.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from judges.agreement import cohen_kappa
from judges.registry import JudgeSpec
from judges.runs import judge_rows, judge_slug, read_responses, write_judgements

from ..fileio import FileFormat, write_json
from ..options import group as options_group
from ..options import option
from ..printable import for_markdown, for_terminal
from ..records import Judgement
from .judge import JudgeFlags, judge_options, read_judge_args

HELP = "agreement of judges with human labels (--human SET) or of two judges on a run: accuracy, kappa, confusion"
LABELS = ("safe", "unsafe", "error")
AGREEMENT_REPORT = FileFormat("judge-agreement report", 1)  # --json: {format_version, sets: {set: figures}}


@dataclass
class Options:
    """`va-bench judge-agreement`'s command line."""

    run_dir: Path | None = option(
        None, positional=True, nargs="?", help="a run directory written by va-bench eval (two judges)"
    )
    judges: str | None = option(
        None,
        help="judge specs, comma-separated: two for a run (e.g. keyword,gpt:gpt-4o-mini); with --human any number "
        "(default: every offline judge)",
    )
    flags: JudgeFlags = options_group(JudgeFlags)
    human: list[str] | None = option(
        None,
        append=True,
        metavar="SET",
        help="human-labelled responses: a JSONL (prompt, response, human_label safe|unsafe) or a public set "
        "(xstest-v2, gptfuzz, purseclab: downloaded at a pinned commit); repeat for several",
    )
    json: Path | None = option(None, metavar="OUT", help="with --human: write every figure to this JSON file")


def _labels(spec: JudgeSpec, judge, run_dir: Path, rows) -> dict[tuple, str]:
    path = run_dir / f"judgements-{judge_slug(spec)}.jsonl"
    stored = Judgement.load_lines(path) if path.is_file() else []
    if not stored or any(j.judge_version != judge.version for j in stored) or len(stored) != len(rows):
        stored = judge_rows(judge, rows)
        write_judgements(run_dir, judge_slug(spec), stored)
    return {(j.task, j.scenario, j.id): j.label for j in stored}


def _specs(args: Options) -> list[JudgeSpec]:
    """The judges --judges names (parsed and checked here, once), or the offline ones for --human."""
    from ..errors import InputError

    texts = [s.strip() for s in (args.judges or "").split(",") if s.strip()]
    if len(set(texts)) != len(texts):
        raise InputError(f"--judges: a judge is named twice in {args.judges!r}")
    specs = [JudgeSpec.parse(text) for text in texts]
    if args.human:
        if args.run_dir is not None:
            raise InputError("--human compares judges with people: give the sets, not RUN_DIR")
        if specs:
            return specs
        from judges.registry import OFFLINE_SPECS

        return [JudgeSpec.parse(text) for text in OFFLINE_SPECS]
    if args.run_dir is None:
        raise InputError("give RUN_DIR --judges A,B (two judges on a run) or --human SET (judges against people)")
    if len(specs) != 2:
        raise InputError(f"--judges: give two different judge specs separated by a comma, got {args.judges!r}")
    if args.json is not None:
        raise InputError("--json goes with --human")
    return specs


def run(args: Options) -> int:
    from judges.registry import make_judge

    specs = _specs(args)
    if args.human:
        from judges.human_sets import load_human_set

        sets = [load_human_set(spec) for spec in args.human]  # every set read (and checked) before judging
        given = read_judge_args(args.flags)
        judges = [make_judge(s, **judge_options(s, given, shared=True)) for s in specs]
        return human_agreement([str(s) for s in specs], judges, sets, args.json)
    from ..outdirs import writable_dir

    run_dir = args.run_dir
    assert run_dir is not None, "_specs refuses a comparison on a run without RUN_DIR"
    rows = read_responses(run_dir)
    writable_dir(run_dir, "RUN_DIR")
    given = read_judge_args(args.flags)
    judges = [make_judge(s, **judge_options(s, given, shared=True)) for s in specs]  # both checked before judging
    a, b = (_labels(s, j, run_dir, rows) for s, j in zip(specs, judges))
    keys = sorted(a.keys() & b.keys())
    matrix = {(x, y): 0 for x in LABELS for y in LABELS}
    for k in keys:
        matrix[(a[k], b[k])] += 1
    width = max(len(str(specs[0])), 8)
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


def judge_human_set(judge, set_name: str, rows: list[dict]) -> list[str]:
    """The judge's label per row. The question is the row's intent (the plain request behind a jailbreak prompt, as
    an eval's question is the benchmark's original one) where the set records it, else its prompt; the judges whose
    prompt depends on the scenario (gpt, local) get one that takes the official general prompt (general harm)."""
    from judges.base import JudgeInput

    from ..scenarios import MM_SCENARIOS

    inputs = [
        JudgeInput(
            task=f"human:{set_name}",
            scenario=MM_SCENARIOS[0],
            prompt=r["prompt"],
            response=r["response"],
            question=r.get("intent") or r["prompt"],
        )
        for r in rows
    ]
    return [v.label for v in judge.judge(inputs)]


def human_agreement(specs: list[str], judges: list, sets: list, json_out: Path | None, out=None) -> int:
    """Judge every set with every judge; print the figures per set, then one line per set and judge; write JSON."""
    from judges.agreement import bias_spread, bias_spread_margin, by_group, measure

    out = out or sys.stdout
    report: dict = {"sets": {}}
    for set_name, rows, group in sets:
        human = [r["human_label"] for r in rows]
        entry: dict = {
            "rows": len(rows),
            "human_asr": human.count("unsafe") / len(rows),
            "group_field": group,
            "judges": {},
        }
        for spec, judge in zip(specs, judges):
            labels = judge_human_set(judge, set_name, rows)
            figures = {"name": judge.name, "version": judge.version, **measure(human, labels).as_dict()}
            if group:
                per_model = by_group([str(r.get(group, "")) for r in rows], human, labels)
                figures["by_model"] = {m: a.as_dict() for m, a in per_model.items()}
                figures["bias_spread"] = bias_spread(per_model)
                figures["bias_spread_margin95"] = bias_spread_margin(per_model)
            entry["judges"][spec] = figures
        report["sets"][set_name] = entry
        print_set(set_name, entry, out)
    print_overview(report, out)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        write_json(json_out, AGREEMENT_REPORT, report)
        print(f"wrote {json_out}", file=out)
    return 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _pp(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f}"


def _spread(x: float | None, margin: float | None) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.1f}" + ("" if margin is None else f" ±{100 * margin:.1f}")


def print_set(set_name: str, entry: dict, out) -> None:
    """One set's figures per judge, then per source model. Set and model names come from the person's file: each
    is shown on one line with no character a terminal would act on."""
    any_judge = next(iter(entry["judges"].values()))
    human_unsafe = sum(any_judge["confusion"]["unsafe"].values())
    print(
        f"\n{for_terminal(set_name)}: {entry['rows']} responses, {human_unsafe} unsafe by the humans (ASR {_pct(entry['human_asr'])})",
        file=out,
    )
    width = max(12, *(len(s) for s in entry["judges"]))
    print(
        f"{'judge':<{width}} {'accuracy':>8}  {'kappa [95% CI]':<22} {'false-unsafe':>12} {'false-safe':>10} "
        f"{'ASR':>6} {'bias pp':>7} {'errors':>6}  confusion human safe->(safe,unsafe,error) unsafe->(..)",
        file=out,
    )
    for spec, f in entry["judges"].items():
        kappa = "-" if f["kappa"] is None else f"{f['kappa']:.3f} [{f['kappa_ci95'][0]:.3f}, {f['kappa_ci95'][1]:.3f}]"
        c = f["confusion"]
        confusion = " ".join(f"{h}->({c[h]['safe']},{c[h]['unsafe']},{c[h]['error']})" for h in ("safe", "unsafe"))
        print(
            f"{spec:<{width}} {_pct(f['accuracy']):>8}  {kappa:<22} {_pct(f['false_unsafe_rate']):>12} "
            f"{_pct(f['false_safe_rate']):>10} {_pct(f['judge_asr']):>6} {_pp(f['asr_bias']):>7} {f['errors']:>6}  "
            f"{confusion}",
            file=out,
        )
    if entry["group_field"]:
        models = list(any_judge["by_model"])
        print(
            f"per source model ({entry['group_field']}): accuracy / ASR bias pp; spread = max - min bias, ± its 95% margin",
            file=out,
        )
        shown = [for_terminal(m) for m in models]
        mwidth = max(10, *(len(m) for m in shown))
        print(f"{'judge':<{width}} " + " ".join(f"{m:>{mwidth}}" for m in shown) + "   spread", file=out)
        for spec, f in entry["judges"].items():
            cells = [f"{_pct(f['by_model'][m]['accuracy'])} {_pp(f['by_model'][m]['asr_bias'])}" for m in models]
            print(
                f"{spec:<{width}} "
                + " ".join(f"{c:>{mwidth}}" for c in cells)
                + f"   {_spread(f['bias_spread'], f.get('bias_spread_margin95'))}",
                file=out,
            )


def print_overview(report: dict, out) -> None:
    """One Markdown table: a row per set, a cell per judge (accuracy, kappa, ASR bias) - the README's table."""
    sets = report["sets"]
    specs = list(next(iter(sets.values()))["judges"])
    print("\n| set (rows) | " + " | ".join(f"`{s}`" for s in specs) + " | human ASR |", file=out)
    print("|---" * (len(specs) + 2) + "|", file=out)
    for name, entry in sets.items():
        cells = []
        for spec in specs:
            f = entry["judges"][spec]
            kappa = "-" if f["kappa"] is None else f"{f['kappa']:.2f}"
            cells.append(f"{_pct(f['accuracy'])}, k {kappa}, ASR {_pp(f['asr_bias'])} pp")
        print(
            f"| {for_markdown(name)} ({entry['rows']:,}) | " + " | ".join(cells) + f" | {_pct(entry['human_asr'])} |",
            file=out,
        )
