"""Judge specs ("keyword", "gpt:MODEL", "llama-guard:PATH", ...) -> a Judge.

Every judge is built, and every option of it checked, before a command generates or judges anything:
an unknown option, an empty model name or a missing API key is an exit 2 up front, not after hours of
generation. Options come in one shape on every command (`--judge-args k=v,..`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from va_safetybench.errors import InputError
from va_safetybench.registry import Registry

from .base import Judge
from .base import option_names as fields_of

SPECS = (
    "lexical",
    "keyword",
    "keyword:jailbreakbench",
    "keyword:gcg",
    "strmatch",
    "gpt",
    "gpt:MODEL",
    "llama-guard:PATH",
    "harmbench:PATH",
    "qwen3guard:PATH",
    "wildguard:PATH",
    "shieldgemma:PATH",
    "local:hf:PATH",
    "local:vllm:NAME",
)

DEFAULT_JUDGE = "lexical"  # offline, and measured against people (README, judge table); not a publishable figure
OFFLINE_SPECS = ("keyword", "keyword:gcg", "strmatch", "lexical")  # judge-agreement --human's default set of judges


@dataclass(frozen=True)
class JudgeKind:
    """What the KIND of a spec `KIND[:ARG]` names: its judge class (imported when asked for) and its argument."""

    judge: str  # "module:Class"
    argument: Literal["none", "list", "model", "checkpoint", "local"]  # what follows "KIND:"


# one line per judge kind; its class declares the --judge-args it takes (`Options`, a dataclass)
JUDGES: Registry[JudgeKind] = Registry(
    "judge",
    {
        "lexical": JudgeKind("judges.lexical:LexicalJudge", "none"),
        "keyword": JudgeKind("judges.keyword:KeywordJudge", "list"),
        "strmatch": JudgeKind("judges.keyword:StrmatchJudge", "none"),
        "gpt": JudgeKind("judges.gpt:GPTJudge", "model"),
        "local": JudgeKind("judges.official_local:OfficialHFJudge", "local"),  # local:vllm: OfficialVLLMJudge
        "llama-guard": JudgeKind("judges.local:LlamaGuardJudge", "checkpoint"),
        "harmbench": JudgeKind("judges.local:HarmBenchJudge", "checkpoint"),
        "qwen3guard": JudgeKind("judges.guards:Qwen3GuardJudge", "checkpoint"),
        "wildguard": JudgeKind("judges.guards:WildGuardJudge", "checkpoint"),
        "shieldgemma": JudgeKind("judges.guards:ShieldGemmaJudge", "checkpoint"),
    },
)


@dataclass(frozen=True)
class JudgeSpec:
    """A judge named `KIND[:ARG]` ('keyword', 'gpt:gpt-4o-mini', 'llama-guard:/m/LG3', 'local:hf:PATH'), parsed once
    where the text comes in (the command line, a task's metadata) and checked then: a kind the registry holds, and an
    argument of the shape that kind takes. str() gives the text back."""

    kind: str
    argument: str = ""  # what follows "KIND:"; "" for none

    def __str__(self) -> str:
        return f"{self.kind}:{self.argument}" if self.argument else self.kind

    @classmethod
    def parse(cls, text: str) -> JudgeSpec:
        """The spec `text` names; InputError naming the text otherwise. Plain "keyword" is keyword:jailbreakbench
        and plain "gpt" is gpt:gpt-4o-mini (make_judge), while "gpt:" (a colon and no model) is refused rather than
        read as the default."""
        name, sep, arg = text.partition(":")
        if name not in JUDGES:
            raise InputError(JUDGES.unknown(name, SPECS))
        shape = JUDGES.get(name).argument
        if shape == "none" and arg:
            raise InputError(f"judge {text!r}: {name} takes no argument")
        if shape == "model" and sep and not arg.strip():
            from .gpt import DEFAULT_MODEL

            raise InputError(f"judge {text!r}: no model after 'gpt:' (gpt:MODEL, or plain gpt for {DEFAULT_MODEL})")
        if shape == "checkpoint" and not arg:
            raise InputError(f"judge {text!r} needs a checkpoint folder: {name}:PATH")
        if shape == "local":
            backend, sep, model = arg.partition(":")
            if backend not in ("hf", "vllm") or not sep or not model.strip():
                raise InputError(f"judge {text!r}: write local:hf:PATH or local:vllm:NAME")
        return cls(name, arg)

    @classmethod
    def of(cls, spec: JudgeSpec | str) -> JudgeSpec:
        """`spec` as a JudgeSpec: library callers (scripts, tests) may still name a judge by its text."""
        return spec if isinstance(spec, JudgeSpec) else cls.parse(spec)


OFFLINE_KINDS = tuple(k for k in JUDGES if JUDGES.get(k).argument in ("none", "list"))  # no model, key or network
CHECKPOINT_KINDS = tuple(k for k in JUDGES if JUDGES.get(k).argument == "checkpoint")  # local guard models: KIND:PATH


def judge_class(kind: str) -> type[Judge]:
    """The class a judge kind builds (imported now); InputError for a kind no judge has."""
    return cast(type[Judge], _load(JUDGES.get(kind).judge))


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def option_names(kind: str) -> tuple[str, ...]:
    """The --judge-args keys the judge kind takes: the fields of its class's Options (local: both backends')."""
    if kind not in JUDGES:
        return ()
    names = fields_of(judge_class(kind).Options)
    if kind == "local":
        from .official_local import OfficialVLLMJudge

        names += fields_of(OfficialVLLMJudge.Options)
    return names


def _check_options(spec: str, kind: str, options: dict, valid: tuple[str, ...] | None = None) -> None:
    if "api_key" in options:  # keys never travel as options, so none lands in a config, a log or results
        raise InputError(
            f"judge {spec!r}: API keys are read from the environment only; set OPENAI_API_KEY "
            "or name another variable with api_key_env=NAME"
        )
    valid = option_names(kind) if valid is None else valid
    unknown = sorted(set(options) - set(valid))
    if unknown:
        takes = f"valid: {', '.join(valid)}" if valid else "it takes none"
        raise InputError(f"judge {spec!r} takes no option {unknown[0]!r} (--judge-args); {takes}")


def make_judge(spec: JudgeSpec | str, **options) -> Judge:
    """Build the judge a spec names; `options` go to its constructor (e.g. base_url=, cache_dir=)."""
    spec = JudgeSpec.of(spec)
    shape = JUDGES.get(spec.kind).argument
    if shape == "local":
        return _local_official(spec, options)
    _check_options(str(spec), spec.kind, options)
    judge = cast(Callable[..., Judge], judge_class(spec.kind))  # each kind's constructor takes its own arguments
    if shape == "none":
        return judge()
    if shape == "list":
        from .keyword import DEFAULT_LIST

        return judge(spec.argument or DEFAULT_LIST)
    if shape == "model":
        return judge(_chat_model(spec), **options)
    from va_safetybench.models.checkpoints import refusing_pickled_code

    with refusing_pickled_code(f"judge {spec}"):
        return judge(spec.argument, **options)


def _local_official(spec: JudgeSpec, options: dict) -> Judge:
    """local:hf:PATH or local:vllm:NAME: the official judge prompt through a local instruct model."""
    from va_safetybench.models.checkpoints import refusing_pickled_code

    from .official_local import OfficialHFJudge, OfficialVLLMJudge

    backend, _, name = spec.argument.partition(":")
    judge = OfficialHFJudge if backend == "hf" else OfficialVLLMJudge
    _check_options(str(spec), "local", options, fields_of(judge.Options))
    with refusing_pickled_code(f"judge {spec}"):
        return judge(name, **options)


def make_refusal_judge(spec: JudgeSpec | str, **options) -> Judge | None:
    """XSTest's GPT refusal classifier on the model a `gpt[:MODEL]` spec names (same options as that judge).

    None for every other spec: the over-refusal tasks then report their keyword refusal rate only.
    """
    from .refusal_gpt import XSTestRefusalJudge

    return _gpt_companion(spec, options, XSTestRefusalJudge)


def make_choice_judge(spec: JudgeSpec | str, **options) -> Judge | None:
    """MMBench's GPT choice matcher on the model a `gpt[:MODEL]` spec names (same options as that judge); None for
    every other spec: MMBench then reports its rule-read CircularEval only."""
    from .choice_gpt import MMBenchChoiceJudge

    return _gpt_companion(spec, options, MMBenchChoiceJudge)


def _gpt_companion(spec: JudgeSpec | str, options: dict, judge_class: Callable[..., Judge]) -> Judge | None:
    """A GPT classifier that runs beside the safety judge on the same endpoint and model, for a `gpt` spec only."""
    spec = JudgeSpec.of(spec)
    if spec.kind != "gpt":
        return None
    _check_options(str(spec), spec.kind, options)
    return judge_class(_chat_model(spec), **options)


def _chat_model(spec: JudgeSpec) -> str:
    """The chat model a `gpt[:MODEL]` spec names (JudgeSpec.parse refused "gpt:" with no model)."""
    from .gpt import DEFAULT_MODEL

    return spec.argument.strip() or DEFAULT_MODEL
