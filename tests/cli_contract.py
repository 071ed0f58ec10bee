"""The command-line contract of `va-bench` and `sea-align`, reduced to one JSON value that a restructuring of how
the options are declared must leave as it is: for every command, its help text (flags, metavars, help, order) and
the values its options take for a few command lines (the defaults, and every flag given), as the command sees them.

tests/test_cli_contract.py compares it with tests/golden/cli_contract.json. Regenerate the golden only on purpose
(a flag added, a help text reworded), and read the diff:
    .venv/bin/python -m tests.cli_contract > tests/golden/cli_contract.json
(The committed one was first made by commit c5a9ece, before every command's options became dataclasses.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

GOLDEN = Path(__file__).resolve().parent / "golden" / "cli_contract.json"
CORES = 7  # os.cpu_count() while the contract is taken: `--jobs` defaults to it
WIDTH = "120"  # COLUMNS while help is formatted: argparse wraps help text to the terminal's width

# command -> command lines after the command's name: the fewest it takes, then (mostly) every flag given
VA_BENCH_CASES: dict[str, list[list[str]]] = {
    "build": [
        [],
        ["--source", "demo", "--out", "b", "--tasks", "va_video_typo,mmsb_typo", "--scenarios", "1,2", "--limit", "3"]
        + ["--tts", "edge", "--voice", "en-us", "--font", "f.ttf", "--seed", "4", "--device", "cpu", "--jobs", "2"]
        + ["--scene-llm", "gpt-4o", "--check"],
        ["--media", "hub:/"],  # a folder that exists: hub:PATH is checked when parsed
        ["--dm", "diffusers:org/model", "--sd", "hub"],
    ],
    "eval": [
        ["--model", "tiny:llava", "--tasks", "mmsb_typo"],
        ["--model", "hf:org/m", "--tasks", "va_video, mmsb_typo", "--bench", "b", "--out", "o"]
        + ["--model-args", "dtype=bfloat16,max_pixels=3", "--judge", "gpt:gpt-4o", "--judge-args", "concurrency=2"]
        + ["--limit", "2", "--batch-size", "3", "--max-new-tokens", "9"],
    ],
    "judge": [
        ["run"],
        ["run", "--judge", "gpt:gpt-4o", "--judge-args", "concurrency=3", "--base-url", "http://h/v1"]
        + ["--api-key-env", "K", "--concurrency", "2", "--cache-dir", "c", "--batch-size", "4", "--device", "cpu"]
        + ["--no-cache"],
    ],
    "judge-agreement": [
        [],
        ["run", "--judges", "keyword,lexical", "--judge-args", "device=cpu", "--base-url", "u", "--no-cache"],
        ["--human", "xstest-v2", "--human", "s.jsonl", "--json", "r.json"],
    ],
    "leaderboard": [["r1", "--out", "site"], ["r1", "r2", "--out", "site"]],
    "regress": [
        ["--baseline", "b.json", "--current", "c.json"],
        ["--baseline", "b", "--current", "c", "--metric", "asr_official", "--max-increase", "0.1", "--alpha", "0.01"],
    ],
    "compare": [["a"], ["a", "b", "--metric", "asr_official", "--alpha", "0.1", "--json", "-"]],
    "demo": [[], ["--out", "d", "--limit", "2", "--jobs", "1", "--threads", "2", "--judge", "keyword"]],
    "lm-eval": [[], ["run", "--model", "va-bench", "--tasks", "x"]],
    "lmms-eval": [[], ["eval", "--model", "qwen2_vl", "--tasks", "x"]],  # main() hands them over before argparse
    "schema": [[], ["summary", "response", "--out", "s"]],
}
SEA_COMMON = ["--modality", "audio", "--preset", "quick", "--response-prefix", "P", "--styles", "a|b"]
SEA_ALIGN_CASES: dict[str, list[list[str]]] = {
    "prepare": [
        ["--out", "w", "--data", "demo"],
        ["--out", "w", "--data", "d.jsonl", "--split", "test", "--fields", "prompt=q", "--limit", "3"]
        + ["--extractor", "llm:gpt-4o", "--base-url", "u", "--api-key-env", "K", *SEA_COMMON],
    ],
    "optimize": [
        ["--out", "w", "--model", "tiny:llava"],
        ["--out", "w", "--model", "hf:m", "--device", "cpu", "--dtype", "float32", "--k", "2", "--max-steps", "3"]
        + ["--lr", "0.5", *SEA_COMMON],
    ],
    "verify": [["--out", "w", "--model", "tiny:llava"], ["--out", "w", "--model", "hf:m", "--device", "cpu"]],
    "dataset": [["--out", "w"], ["--out", "w", "--method", "sft", "--only-success", "--mix", "m.jsonl", *SEA_COMMON]],
    "train": [
        ["--out", "w", "--model", "tiny:llava"],
        ["--out", "w", "--model", "hf:m", "--method", "sft", "--epochs", "2", "--train-lr", "0.1", "--batch-size", "3"]
        + ["--grad-accum", "2", "--beta", "0.2", "--lora-r", "4", "--full", "--activation-checkpointing"]
        + ["--max-response-tokens", "5", "--text-only", "--checkpoint", "c", "--save-every", "7", *SEA_COMMON],
    ],
    "run": [
        ["--out", "w", "--model", "tiny:llava", "--data", "demo"],
        ["--out", "w", "--model", "tiny:llava", "--data", "demo", "--preset", "quick", "--k", "8", "--limit", "2"]
        + ["--only-success", "--text-only", "--method", "sft", "--epochs", "3"],
    ],
}


def plain(value: Any) -> Any:
    """A value as JSON: paths and typed specs as their text, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@contextmanager
def fixed_machine() -> Iterator[None]:
    """The same help and defaults on any machine: a fixed core count and terminal width."""
    with mock.patch.object(os, "cpu_count", return_value=CORES), mock.patch.dict(os.environ, {"COLUMNS": WIDTH}):
        yield


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _values(namespace: argparse.Namespace) -> dict[str, Any]:
    """What the command sees: the option dataclasses' fields where the parser was built from them
    (options.add_options), else the namespace's own values (private and bookkeeping keys left out)."""
    from va_safetybench.options import typed_options

    values = {k: v for k, v in vars(namespace).items() if not k.startswith("_") and k != "command"}
    for options in typed_options(namespace):
        values |= _fields(options)
    return plain(values)


def _fields(options: Any) -> dict[str, Any]:
    """A dataclass's fields by name, those of the option groups it holds (options.group) among them."""
    found: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        found |= _fields(value) if "group" in f.metadata else {f.name: value}
    return found


def _program(
    name: str, make_parser: Callable[[], argparse.ArgumentParser], cases: dict, values: Callable[[list[str]], Any]
) -> dict[str, Any]:
    commands = subparsers(make_parser())
    assert set(commands) == set(cases), f"{name}: commands {sorted(commands)} but cases for {sorted(cases)}"
    return {
        command: {
            "help": commands[command].format_help().splitlines(),
            "values": [{"argv": argv, "options": values([command, *argv])} for argv in argvs],
        }
        for command, argvs in cases.items()
    }


def contract() -> dict[str, Any]:
    from sea_align import cli as sea_cli
    from va_safetybench import cli

    def va_bench_values(argv: list[str]) -> Any:
        return _values(cli.make_parser().parse_args(argv))

    def sea_align_values(argv: list[str]) -> Any:
        command = sea_cli.read_command(sea_cli.parser().parse_args(argv))
        groups = [getattr(command, f.name) for f in dataclasses.fields(command)]  # None: a group it does not take
        return plain({k: v for g in groups if dataclasses.is_dataclass(g) for k, v in _fields(g).items()})

    with fixed_machine():
        return {
            "va-bench": _program("va-bench", cli.make_parser, VA_BENCH_CASES, va_bench_values),
            "sea-align": _program("sea-align", sea_cli.parser, SEA_ALIGN_CASES, sea_align_values),
        }


if __name__ == "__main__":
    json.dump(contract(), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
