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

import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from judges.registry import DEFAULT_JUDGE, JudgeSpec

from ..models.registry import parse_model_args
from ..options import group, option
from ..records import Summary

HELP = "re-judge a run's stored responses with another judge (no generation); writes summary-{judge}.json"


@dataclass
class JudgeFlags:
    """--judge-args, the options shape `va-bench eval` takes too, and the per-option flags `va-bench judge` took
    before it: kept, as aliases of its keys, so that existing scripts keep running (a note on stderr says what to
    write instead). Shared by judge and judge-agreement."""

    judge_args: dict[str, Any] = option(
        factory=dict,
        parse=lambda text: parse_model_args(text, "--judge-args"),
        help="judge options k=v,.. as for va-bench eval: gpt: base_url, api_key_env, concurrency, cache_dir "
        "(default ~/.cache/va-safetybench/judge), use_cache=false; llama-guard/harmbench: batch_size, device",
    )
    old_base_url: str | None = option(None, flag="--base-url", help="deprecated: --judge-args base_url=...")
    old_api_key_env: str | None = option(None, flag="--api-key-env", help="deprecated: --judge-args api_key_env=...")
    old_concurrency: int | None = option(None, flag="--concurrency", help="deprecated: --judge-args concurrency=...")
    old_cache_dir: str | None = option(None, flag="--cache-dir", help="deprecated: --judge-args cache_dir=...")
    old_batch_size: int | None = option(None, flag="--batch-size", help="deprecated: --judge-args batch_size=...")
    old_device: str | None = option(None, flag="--device", help="deprecated: --judge-args device=...")
    no_cache: bool = option(False, help="deprecated: --judge-args use_cache=false")


# the deprecated flags: flag -> the --judge-args key it stands for (read from JudgeFlags' old_KEY fields)
DEPRECATED_FLAGS = {
    f.metadata["flag"]: f.name.removeprefix("old_") for f in fields(JudgeFlags) if f.name.startswith("old_")
}


@dataclass
class Options:
    """`va-bench judge`'s command line."""

    run_dir: Path = option(
        positional=True,
        help="a run directory written by va-bench eval (holds responses.jsonl), or lm-eval's --output_path of a "
        "--log_samples run of our tasks",
    )
    judge: JudgeSpec = option(
        JudgeSpec.parse(DEFAULT_JUDGE),
        parse=JudgeSpec.parse,
        help="judge spec: lexical | keyword[:jailbreakbench|gcg] | strmatch | gpt[:MODEL] | llama-guard:PATH | "
        f"harmbench:PATH | ... (default: {DEFAULT_JUDGE})",
    )
    flags: JudgeFlags = group(JudgeFlags)


@dataclass(frozen=True)
class JudgeArgs:
    """What a command line said about judge options: --judge-args, and the deprecated per-option flags given."""

    options: dict[str, Any]
    deprecated: dict[str, Any]


def read_judge_args(flags: JudgeFlags) -> JudgeArgs:
    """The command line's judge options, read once per command (a note per deprecated flag used)."""
    given = {key: getattr(flags, f"old_{key}") for key in DEPRECATED_FLAGS.values()}
    given = {key: value for key, value in given.items() if value is not None}
    if flags.no_cache:
        given["use_cache"] = False
    names = {key: name for name, key in DEPRECATED_FLAGS.items()} | {"use_cache": "--no-cache"}
    for key, value in given.items():
        print(f"note: {names[key]} is deprecated; write --judge-args {key}={value}", file=sys.stderr)
    return JudgeArgs(flags.judge_args, given)


def judge_options(spec: JudgeSpec, given: JudgeArgs, shared: bool = False) -> dict:
    """Constructor options for the judge `spec` names: --judge-args, plus the deprecated per-option flags.

    The flags apply only to the judges that take them (as they always did). With `shared` (several judges
    on one command line), --judge-args keys go to the judges that take them, and a key no judge takes is
    refused; otherwise the judge's constructor refuses a key it does not take (judges.registry).
    """
    from judges.registry import JUDGES, option_names

    from ..errors import InputError

    kind = spec.kind
    options = dict(given.options)
    if shared:
        known = {k for other in JUDGES for k in option_names(other)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(f"--judge-args: no judge takes {unknown[0]!r}; valid: {', '.join(sorted(known))}")
        options = {k: v for k, v in options.items() if k in option_names(kind)}
    for key, value in given.deprecated.items():
        if key not in option_names(kind):
            continue
        if key in options and options[key] != value:
            raise InputError(f"--judge-args {key}={options[key]!r} contradicts the deprecated flag for {key}")
        options.setdefault(key, value)
    return options


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


def run(args: Options) -> int:
    from judges.runs import rejudge

    result = rejudge(args.run_dir, args.judge, judge_options(args.judge, read_judge_args(args.flags)))
    print_table(result.summary, judge_errors=result.judge_errors)
    print(f"wrote {result.summary_path}")
    return 0
