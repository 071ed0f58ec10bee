"""Judge specs ("keyword", "gpt:MODEL", "llama-guard:PATH", ...) -> a Judge.

Every judge is built, and every option of it checked, before a command generates or judges anything:
an unknown option, an empty model name or a missing API key is an exit 2 up front, not after hours of
generation. Options come in one shape on every command (`--judge-args k=v,..`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from va_safetybench.errors import InputError

from .base import Judge

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
OFFLINE_KINDS = ("lexical", "keyword", "strmatch")  # judges that need no model, key or network
CHECKPOINT_KINDS = (
    "llama-guard",
    "harmbench",
    "qwen3guard",
    "wildguard",
    "shieldgemma",
)  # local guard models: KIND:PATH
OFFLINE_SPECS = ("keyword", "keyword:gcg", "strmatch", "lexical")  # judge-agreement --human's default set of judges


def option_names(kind: str) -> tuple[str, ...]:
    """The --judge-args keys the judge kind takes (its constructor's keyword parameters)."""
    init: Callable[..., None]
    if kind in OFFLINE_KINDS:
        return ()
    if kind == "gpt":
        from .openai_chat import ChatJudge

        init, fixed = ChatJudge.__init__, 3  # self, model, cache_file
    elif kind == "local":  # hf: batch_size, device; vllm: its engine options
        from .official_local import OfficialVLLMJudge

        return ("batch_size", "device", *OfficialVLLMJudge.ENGINE_OPTIONS)
    elif kind in CHECKPOINT_KINDS:
        init, fixed = _checkpoint_judge(kind).__init__, 2  # self, path
    else:
        return ()
    return tuple(list(inspect.signature(init).parameters)[fixed:])


def _check_options(spec: str, kind: str, options: dict) -> None:
    if "api_key" in options:  # keys never travel as options, so none lands in a config, a log or results
        raise InputError(
            f"judge {spec!r}: API keys are read from the environment only; set OPENAI_API_KEY "
            "or name another variable with api_key_env=NAME"
        )
    valid = option_names(kind)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        takes = f"valid: {', '.join(valid)}" if valid else "it takes none"
        raise InputError(f"judge {spec!r} takes no option {unknown[0]!r} (--judge-args); {takes}")


def make_judge(spec: str, **options) -> Judge:
    """Build the judge a spec names; `options` go to its constructor (e.g. base_url=, cache_dir=).

    Plain "keyword" is keyword:jailbreakbench; plain "gpt" is gpt:gpt-4o-mini; "gpt:" (a colon and no
    model) is refused rather than read as the default.
    """
    kind, sep, arg = spec.partition(":")
    if kind not in (*OFFLINE_KINDS, "gpt", "local", *CHECKPOINT_KINDS):
        raise InputError(f"unknown judge {spec!r}; valid: {', '.join(SPECS)}")
    _check_options(spec, kind, options)
    if kind == "keyword":
        from .keyword import DEFAULT_LIST, KeywordJudge

        return KeywordJudge(arg or DEFAULT_LIST)
    if kind in ("strmatch", "lexical"):
        if arg:
            raise InputError(f"judge {spec!r}: {kind} takes no argument")
        if kind == "strmatch":
            from .keyword import StrmatchJudge

            return StrmatchJudge()
        from .lexical import LexicalJudge

        return LexicalJudge()
    if kind == "gpt":
        from .gpt import GPTJudge

        return GPTJudge(_chat_model(spec, sep, arg), **options)
    if kind == "local":
        return _local_official(spec, arg, options)
    if not arg:
        raise InputError(f"judge {spec!r} needs a checkpoint folder: {kind}:PATH")
    from va_safetybench.models.checkpoints import refusing_pickled_code

    with refusing_pickled_code(f"judge {spec}"):
        return _checkpoint_judge(kind)(arg, **options)


def _local_official(spec: str, arg: str, options: dict) -> Judge:
    """local:hf:PATH or local:vllm:NAME: the official judge prompt through a local instruct model."""
    from va_safetybench.models.checkpoints import refusing_pickled_code

    from .official_local import OfficialHFJudge, OfficialVLLMJudge

    backend, sep, name = arg.partition(":")
    if backend not in ("hf", "vllm") or not sep or not name.strip():
        raise InputError(f"judge {spec!r}: write local:hf:PATH or local:vllm:NAME")
    hf_options = ("batch_size", "device")
    wrong = sorted(set(options) - set(hf_options if backend == "hf" else OfficialVLLMJudge.ENGINE_OPTIONS))
    if wrong:
        raise InputError(f"judge {spec!r} takes no option {wrong[0]!r} (--judge-args) with {backend}:")
    with refusing_pickled_code(f"judge {spec}"):
        return OfficialHFJudge(name, **options) if backend == "hf" else OfficialVLLMJudge(name, **options)


def _checkpoint_judge(kind: str) -> Callable[..., Judge]:
    """The class of a local guard-model judge kind (imported only when that kind is asked for)."""
    if kind in ("qwen3guard", "wildguard", "shieldgemma"):
        from .guards import Qwen3GuardJudge, ShieldGemmaJudge, WildGuardJudge

        return {"qwen3guard": Qwen3GuardJudge, "wildguard": WildGuardJudge, "shieldgemma": ShieldGemmaJudge}[kind]
    from .local import HarmBenchJudge, LlamaGuardJudge

    return LlamaGuardJudge if kind == "llama-guard" else HarmBenchJudge


def make_refusal_judge(spec: str, **options) -> Judge | None:
    """XSTest's GPT refusal classifier on the model a `gpt[:MODEL]` spec names (same options as that judge).

    None for every other spec: the over-refusal tasks then report their keyword refusal rate only.
    """
    from .refusal_gpt import XSTestRefusalJudge

    return _gpt_companion(spec, options, XSTestRefusalJudge)


def make_choice_judge(spec: str, **options) -> Judge | None:
    """MMBench's GPT choice matcher on the model a `gpt[:MODEL]` spec names (same options as that judge); None for
    every other spec: MMBench then reports its rule-read CircularEval only."""
    from .choice_gpt import MMBenchChoiceJudge

    return _gpt_companion(spec, options, MMBenchChoiceJudge)


def _gpt_companion(spec: str, options: dict, judge_class: Callable[..., Judge]) -> Judge | None:
    """A GPT classifier that runs beside the safety judge on the same endpoint and model, for a `gpt` spec only."""
    kind, sep, arg = spec.partition(":")
    if kind != "gpt":
        return None
    _check_options(spec, kind, options)
    return judge_class(_chat_model(spec, sep, arg), **options)


def _chat_model(spec: str, sep: str, arg: str) -> str:
    from .gpt import DEFAULT_MODEL

    if sep and not arg.strip():
        raise InputError(f"judge {spec!r}: no model after 'gpt:' (gpt:MODEL, or plain gpt for {DEFAULT_MODEL})")
    return arg.strip() or DEFAULT_MODEL
