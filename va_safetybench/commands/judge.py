"""va-bench judge: re-judge the stored responses of a run directory, without generating.

Reads RUN_DIR/responses.jsonl (written by `va-bench eval`), or, where there is none, the sample logs of a plain
lm-eval run of our tasks with any model class (RUN_DIR = its --output_path; harness/lm_eval_samples.py), writes beside it
`judgements-{judge}.jsonl` (one verdict per response) and `summary-{judge}.json` (the run's
metadata from summary.json when present, this judge's name and version, and the tasks/groups
sections, plus summary.json's capability / over_refusal sections; written by summary.write_summary).
With a gpt judge, the run's stored over-refusal responses (capability/samples_{task}.jsonl) are
classified again by XSTest's GPT refusal classifier on the same model, and those rates replace the
carried ones in the new summary. The eval run's own summary.json is left untouched. Responses that failed to
generate (response null) are `error` verdicts. Nothing from the responses is printed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from judges.registry import DEFAULT_JUDGE

from ..fileio import atomic_write, jsonl_lines, jsonl_text, read_jsonl
from ..records import JudgeIdentity, Judgement, ResponseRow, Summary

HELP = "re-judge a run's stored responses with another judge (no generation); writes summary-{judge}.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run_dir",
        type=Path,
        help="a run directory written by va-bench eval (holds responses.jsonl), or lm-eval's --output_path of a "
        "--log_samples run of our tasks",
    )
    add_judge_options(
        p,
        "--judge",
        DEFAULT_JUDGE,
        "judge spec: lexical | keyword[:jailbreakbench|gcg] | strmatch | gpt[:MODEL] | llama-guard:PATH | "
        f"harmbench:PATH | ... (default: {DEFAULT_JUDGE})",
    )


# the per-option flags `va-bench judge` took before --judge-args; kept, as aliases of its keys, so that
# existing scripts keep running (a note on stderr says what to write instead)
DEPRECATED_FLAGS = {
    "--base-url": ("base_url", str),
    "--api-key-env": ("api_key_env", str),
    "--concurrency": ("concurrency", int),
    "--cache-dir": ("cache_dir", str),
    "--batch-size": ("batch_size", int),
    "--device": ("device", str),
}


def add_judge_options(
    p: argparse.ArgumentParser, flag: str, default: str | None, help_text: str, required: bool | None = None
) -> None:
    """The judge selector plus --judge-args, the options shape `va-bench eval` takes too (shared with
    judge-agreement); the selector is required when it has no default, unless `required` says otherwise."""
    p.add_argument(flag, default=default, required=default is None if required is None else required, help=help_text)
    p.add_argument(
        "--judge-args",
        default=None,
        help="judge options k=v,.. as for va-bench eval: gpt: base_url, api_key_env, concurrency, cache_dir "
        "(default ~/.cache/va-safetybench/judge), use_cache=false; llama-guard/harmbench: batch_size, device",
    )
    for name, (key, kind) in DEPRECATED_FLAGS.items():
        p.add_argument(name, dest=f"old_{key}", type=kind, default=None, help=f"deprecated: --judge-args {key}=...")
    p.add_argument("--no-cache", action="store_true", help="deprecated: --judge-args use_cache=false")


def judge_options(spec: str, args: argparse.Namespace, shared: bool = False) -> dict:
    """Constructor options for the judge `spec` names: --judge-args, plus the deprecated per-option flags.

    The flags apply only to the judges that take them (as they always did). With `shared` (several judges
    on one command line), --judge-args keys go to the judges that take them, and a key no judge takes is
    refused; otherwise the judge's constructor refuses a key it does not take (judges.registry).
    """
    from judges.registry import CHECKPOINT_KINDS, option_names

    from ..errors import InputError
    from ..models.registry import parse_model_args

    kind = spec.partition(":")[0]
    options = parse_model_args(args.judge_args, "--judge-args")
    if shared:
        known = {k for other in ("gpt", "local", *CHECKPOINT_KINDS) for k in option_names(other)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(f"--judge-args: no judge takes {unknown[0]!r}; valid: {', '.join(sorted(known))}")
        options = {k: v for k, v in options.items() if k in option_names(kind)}
    for key, value in _deprecated_options(args).items():
        if key not in option_names(kind):
            continue
        if key in options and options[key] != value:
            raise InputError(f"--judge-args {key}={options[key]!r} contradicts the deprecated flag for {key}")
        options.setdefault(key, value)
    return options


def _deprecated_options(args: argparse.Namespace) -> dict:
    """{--judge-args key: value} of the deprecated flags given; a note per flag, once per command."""
    given = {key: getattr(args, f"old_{key}") for key, _ in DEPRECATED_FLAGS.values()}
    given = {key: value for key, value in given.items() if value is not None}
    if args.no_cache:
        given["use_cache"] = False
    if given and not getattr(args, "_deprecation_noted", False):
        args._deprecation_noted = True
        flags = {key: name for name, (key, _) in DEPRECATED_FLAGS.items()} | {"use_cache": "--no-cache"}
        for key, value in given.items():
            print(f"note: {flags[key]} is deprecated; write --judge-args {key}={value}", file=sys.stderr)
    return given


def judge_slug(spec: str) -> str:
    """A file-name-safe form of a judge spec ('llama-guard:/m/LG3' -> 'llama-guard_LG3')."""
    from judges.registry import CHECKPOINT_KINDS

    kind, _, arg = spec.partition(":")
    if arg and kind in CHECKPOINT_KINDS:
        arg = Path(arg.rstrip("/")).name
    elif arg and kind == "local":  # local:hf:/m/Qwen2.5-7B-Instruct -> local_hf_Qwen2.5-7B-Instruct
        backend, _, name = arg.partition(":")
        arg = f"{backend}_{Path(name.rstrip('/')).name}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{kind}_{arg}" if arg else kind)


def read_responses(run_dir: Path) -> list[ResponseRow]:
    """The rows of RUN_DIR/responses.jsonl (records.ResponseRow); InputError naming the file and line for a bad
    one, a duplicate item, or a file without rows."""
    from ..errors import InputError

    path = run_dir / "responses.jsonl"
    if not path.is_file():
        from ..harness.lm_eval_samples import responses_from_samples

        rows = responses_from_samples(run_dir) if run_dir.is_dir() else []
        if rows:
            return rows
        raise InputError(
            f"{path}: not found (is {run_dir} a run directory written by va-bench eval, or lm-eval's --output_path "
            f"of a --log_samples run of our tasks?)"
        )
    rows, seen = [], set()
    for line in jsonl_lines(path):
        row = ResponseRow.from_json(line.value, line.where)
        if row.key in seen:
            task, scenario, item = row.key
            raise InputError(f"{line.where}: duplicate response for task {task} scenario {scenario} id {item}")
        seen.add(row.key)
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no responses")
    return rows


def judge_rows(judge, rows: list[ResponseRow]) -> list[Judgement]:
    """One judgement per row: generated responses go to the judge, failed generations are errors."""
    from judges.base import JudgeInput, Verdict

    generated = [i for i, r in enumerate(rows) if r.response is not None]
    inputs = [
        JudgeInput(
            task=rows[i].task,
            scenario=rows[i].scenario,
            prompt=rows[i].prompt,
            response=rows[i].response or "",
            question=rows[i].question,
        )
        for i in generated
    ]
    verdicts: list = [Verdict("error", "no response: generation failed")] * len(rows)
    for i, v in zip(generated, judge.judge(inputs)):
        verdicts[i] = v
    return [
        Judgement(
            task=r.task,
            scenario=r.scenario,
            id=r.id,
            label=v.label,
            raw=v.raw,
            categories=list(v.categories),
            official_unsafe=v.official_unsafe,
            judge=judge.name,
            judge_version=judge.version,
        )
        for r, v in zip(rows, verdicts)
    ]


def judgement_records(judgements: list[Judgement]) -> list:
    """judges.aggregate.Record per judgement."""
    from judges.aggregate import Record

    return [Record(j.task or "", j.scenario or "", j.id or "", j.label, j.official_unsafe) for j in judgements]


def write_judgements(run_dir: Path, slug: str, judgements: list[Judgement]) -> Path:
    path = run_dir / f"judgements-{slug}.jsonl"
    atomic_write(path, jsonl_text(j.to_json() for j in judgements))
    return path


def over_refusal_samples(run_dir: Path) -> dict[str, Path]:
    """{task: RUN_DIR/capability/samples_{task}.jsonl} of the over-refusal tasks the run stored."""
    from ..capability import names

    samples = {
        task: run_dir / "capability" / f"samples_{task}.jsonl"
        for task, (_, kind) in names.TASKS.items()
        if kind == "over_refusal"
    }
    return {task: path for task, path in samples.items() if path.is_file()}


def over_refusal_judge(run_dir: Path, spec: str, args: argparse.Namespace):
    """XSTest's GPT refusal classifier when `spec` is a gpt judge (as `va-bench eval --judge gpt:MODEL`
    adds it) and the run stored over-refusal responses; None otherwise."""
    from judges.registry import make_refusal_judge

    return make_refusal_judge(spec, **judge_options(spec, args)) if over_refusal_samples(run_dir) else None


def rejudge_over_refusal(run_dir: Path, judge) -> dict[str, dict]:
    """{modality: GPT refusal fields} for the run's stored over-refusal responses; {} without a judge."""
    from ..capability import names
    from ..capability.refusal import gpt_refusal

    if judge is None:
        return {}
    return {
        names.TASKS[task][0]: gpt_refusal(judge, task, [(s["doc"], s["filtered_resps"][0]) for s in read_jsonl(path)])
        for task, path in over_refusal_samples(run_dir).items()
    }


def write_rejudged_summary(
    run_dir: Path,
    slug: str,
    judge,
    judgements: list[Judgement],
    rows: list[ResponseRow],
    over_refusal: dict[str, dict] | None = None,
    source: str = "responses.jsonl",
) -> Summary:
    """RUN_DIR/summary-{slug}.json through summary.write_summary, identified as summary.json identifies the run
    (model from the responses when there is no summary.json); its capability sections come along."""
    from ..summary import read_summary, write_summary

    old = read_summary(run_dir)
    model = (old.model if old else None) or rows[0].model or "unknown"
    identity = Summary(
        model=model,
        backend=(old.backend if old else None) or model.partition(":")[0],
        random_weights=bool(old and old.random_weights),
        judge=JudgeIdentity.of(judge),
        bench=old.bench if old else None,
        alignment=old.alignment if old else None,
        generation=old.generation if old else None,
        versions=old.versions if old else {},
        extra={"rejudged_from": source},
    )
    refreshed = {"over_refusal": over_refusal} if over_refusal else None
    return write_summary(run_dir, judgement_records(judgements), identity, f"summary-{slug}.json", refreshed)


def judge_failures(rows: list[ResponseRow], labels: list[str]) -> int:
    """Responses the judge itself could not label (the ones `va-bench judge` can retry): error verdicts
    of rows that have a response; a generation that failed is an error no re-judging can fix."""
    return sum(label == "error" and row.response is not None for row, label in zip(rows, labels))


def print_table(summary: Summary, out=None, judge_errors: int = 0) -> None:
    """Counts and ASR per task (numbers only: never response text): ours (micro, macro) and, beside it,
    the official scripts' rule (macro over scenarios, errors in the denominator); the re-judge hint only
    when `judge_errors` of the errors are the judge's."""
    out = out or sys.stdout

    def pct(x):
        return "   -  " if x is None else f"{100 * x:5.1f}%"

    print(
        f"{'task':<22} {'n':>5} {'safe':>5} {'unsafe':>6} {'error':>5}  {'ASR':>6}  {'macro':>6}  {'official':>8}",
        file=out,
    )
    for task, t in summary.tasks.items():
        print(
            f"{task:<22} {t.n:>5} {t.safe:>5} {t.unsafe:>6} {t.error:>5}  {pct(t.asr)}  "
            f"{pct(t.asr_macro)}    {pct(t.asr_official_macro)}",
            file=out,
        )
    print(
        "official: the official scripts' rule (exact 'unsafe' over every item, errors included; mean over scenarios)",
        file=out,
    )
    from judges.trust import known_agreement, trust_line

    if summary.judge is not None:
        agreement = summary.judge_agreement or known_agreement(summary.judge.name, summary.judge.version)
        print(trust_line(summary.judge.name, agreement), file=out)
    if summary.errors:
        retry = f"; {judge_errors} of them the judge's: run va-bench judge again to retry those" if judge_errors else ""
        print(f"{summary.errors} responses could not be judged (label 'error', outside ASR){retry}", file=out)


def run(args: argparse.Namespace) -> int:
    from judges.registry import make_judge

    from ..outdirs import writable_dir

    rows = read_responses(args.run_dir)
    writable_dir(args.run_dir, "RUN_DIR")  # the verdicts are written there: prove it before judging
    judge = make_judge(args.judge, **judge_options(args.judge, args))
    refusal_judge = over_refusal_judge(args.run_dir, args.judge, args)  # checked before any request too
    judgements = judge_rows(judge, rows)
    slug = judge_slug(args.judge)
    write_judgements(args.run_dir, slug, judgements)
    over_refusal = rejudge_over_refusal(args.run_dir, refusal_judge)
    source = "responses.jsonl" if (args.run_dir / "responses.jsonl").is_file() else "lm-eval sample logs"
    summary = write_rejudged_summary(args.run_dir, slug, judge, judgements, rows, over_refusal, source)
    print_table(summary, judge_errors=judge_failures(rows, [j.label for j in judgements]))
    print(f"wrote {args.run_dir / f'summary-{slug}.json'}")
    return 0
