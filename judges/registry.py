"""Judge specs ("keyword", "gpt:MODEL", "llama-guard:PATH", ...) -> a Judge."""

from __future__ import annotations

from va_safetybench.errors import InputError

from .base import Judge

SPECS = ("keyword", "keyword:jailbreakbench", "keyword:gcg", "gpt", "gpt:MODEL", "llama-guard:PATH", "harmbench:PATH")


def make_judge(spec: str, **options) -> Judge:
    """Build the judge a spec names; `options` go to its constructor (e.g. base_url=, cache_dir=).

    Plain "keyword" is keyword:jailbreakbench; plain "gpt" is gpt:gpt-4o-mini.
    """
    kind, _, arg = spec.partition(":")
    if kind == "keyword":
        from .keyword import DEFAULT_LIST, KeywordJudge

        return KeywordJudge(arg or DEFAULT_LIST, **options)
    if kind == "gpt":
        from .gpt import DEFAULT_MODEL, GPTJudge

        return GPTJudge(arg or DEFAULT_MODEL, **options)
    if kind in ("llama-guard", "harmbench"):
        if not arg:
            raise InputError(f"judge {spec!r} needs a checkpoint folder: {kind}:PATH")
        from .local import HarmBenchJudge, LlamaGuardJudge

        return (LlamaGuardJudge if kind == "llama-guard" else HarmBenchJudge)(arg, **options)
    raise InputError(f"unknown judge {spec!r}; valid: {', '.join(SPECS)}")


def make_refusal_judge(spec: str, **options) -> Judge | None:
    """XSTest's GPT refusal classifier on the model a `gpt[:MODEL]` spec names (same options as that judge).

    None for every other spec: the over-refusal tasks then report their keyword refusal rate only.
    """
    kind, _, arg = spec.partition(":")
    if kind != "gpt":
        return None
    from .gpt import DEFAULT_MODEL
    from .refusal_gpt import XSTestRefusalJudge

    return XSTestRefusalJudge(arg or DEFAULT_MODEL, **options)


def make_choice_judge(spec: str, **options) -> Judge | None:
    """MMBench's GPT choice matcher on the model a `gpt[:MODEL]` spec names (same options as that judge); None for
    every other spec: MMBench then reports its rule-read CircularEval only."""
    kind, _, arg = spec.partition(":")
    if kind != "gpt":
        return None
    from .choice_gpt import MMBenchChoiceJudge
    from .gpt import DEFAULT_MODEL

    return MMBenchChoiceJudge(arg or DEFAULT_MODEL, **options)
