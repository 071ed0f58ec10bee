"""va-bench lm-eval ARGS: lm-eval's own command line, with our model class and tasks available.

Everything after `lm-eval` goes to lm-eval unchanged; we only register the `va-bench` model
class first (and lm-eval's own `hf-audiolm-qwen`, repaired: lm_eval_audiolm.py; and lm-eval's `hf-multimodal`
taking text-only requests beside image ones, as our groups give them: lm_eval_mixed.py) and add
`--include_path <our tasks>` when the user did not pass one. Example:
  va-bench lm-eval run --model va-bench --model_args model=tiny:qwen2-vl \
      --tasks va_video_typo --metadata '{"bench": "bench", "judge": "keyword"}' --limit 4 --output_path out --log_samples
The safety tasks judge their responses inside lm-eval with the metadata's judge and report `asr`, `asr_macro`,
`asr_official` and `asr_official_macro` (va_safetybench/harness/metrics.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..options import passed_through

HELP = "run lm-eval's own CLI with the va-bench model class and our tasks (all arguments pass through)"
_SUBCOMMANDS = ("run", "ls", "validate")


@dataclass
class Options:
    """`va-bench lm-eval`'s command line: all of it lm-eval's (cli.main hands it over before parsing; this is --help)."""

    args: list[str] = passed_through("lm-eval arguments, e.g. run --model va-bench --tasks ...")


def with_include_path(argv: list[str], tasks_dir: str) -> list[str]:
    """argv plus `--include_path tasks_dir` unless the user gave one or asked for nothing but help."""
    if any(a == "--include_path" or a.startswith("--include_path=") for a in argv):
        return list(argv)
    if not [a for a in argv if a not in _SUBCOMMANDS and a not in ("-h", "--help")]:
        return list(argv)
    return [*argv, "--include_path", tasks_dir]


def passthrough(argv: list[str]) -> int:
    from lm_eval.__main__ import cli_evaluate

    from ..harness import lm_eval_audiolm, lm_eval_mixed, lm_eval_models  # noqa: F401  (it registers `va-bench`)
    from ..harness.docs import tasks_dir
    from ..harness.run_context import RunContext

    lm_eval_audiolm.install()  # lm-eval 0.4.13's `hf-audiolm-qwen` cannot run as shipped (see that module)
    lm_eval_mixed.install()  # nor can its `hf-multimodal` run text-only and image tasks together

    saved = sys.argv
    sys.argv = ["lm-eval", *with_include_path(argv, str(tasks_dir()))]
    try:
        with RunContext().active():  # the run's judges and failed generations (harness/run_context.py)
            cli_evaluate()
    finally:
        sys.argv = saved
    return 0


def run(options: Options) -> int:
    return passthrough(options.args)
