"""lm-eval's own multimodal model classes on a run that mixes text-only and media tasks.

lm-eval 0.4.13 hands every generate_until request of a run, whatever its task, to one `generate_until` call, and
its multimodal classes take one kind of request per call: `hf-multimodal` and `vllm-vlm` choose their text or
their media path by the first request alone, `hf-audiolm-qwen` always takes its audio path, and a batch holding
both kinds ends in lm-eval's own unpacking (`too many values to unpack`), after the model has loaded. Our groups
mix the kinds: `mm_safetybench` holds `mmsb_text_only` beside the image tasks, `va_audio` `va_audio_text_only`
beside the audio ones, `over_refusal` XSTest beside the benign twins.

Under `va-bench lm-eval` (install), `hf-multimodal` and `hf-audiolm-qwen` are lm-eval's classes with the requests
split by kind (`TextAndMediaRequests`): the text-only ones through the text path of lm-eval's class (its base
class, lm-eval's `hf`), the others through its media path, the answers back in request order; nothing else of
lm-eval's classes changes. Under plain `lm_eval`, where nothing of ours wraps a class, such a run stops in one
line while lm-eval builds its requests (model_checks.refuse_unfit_model), as does `vllm-vlm` under both.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

MULTIMODAL_ALIAS = "hf-multimodal"
LM_EVAL_MULTIMODAL = "lm_eval.models.hf_vlms:HFMultimodalLM"
_REPAIRED_MULTIMODAL = f"{__name__}:TextAndMediaHFMultimodalLM"
# lm-eval's classes whose generate_until takes one kind of request per call (module.qualname)
ONE_KIND_CLASSES = frozenset(
    {
        "lm_eval.models.hf_vlms.HFMultimodalLM",
        "lm_eval.models.hf_audiolm.HFAUDIOLMQWEN",
        "lm_eval.models.vllm_vlms.VLLM_VLM",
    }
)


def takes_one_kind(cls: type) -> bool:
    """Whether `cls` is one of lm-eval's one-kind classes (or derived from one) that nothing of ours repaired."""
    if getattr(cls, "TAKES_TEXT_AND_MEDIA", False):
        return False
    return any(f"{base.__module__}.{base.__qualname__}" in ONE_KIND_CLASSES for base in cls.__mro__)


class TextAndMediaRequests:
    """Mixed in before one of lm-eval's multimodal classes (`LM_EVAL_CLASS`): one generate_until call takes
    text-only requests (two arguments) and media requests (a third, {"visual"|"audio": [...]}) together."""

    TAKES_TEXT_AND_MEDIA = True
    LM_EVAL_CLASS: Any  # lm-eval's class, set by the subclass that mixes this in

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        answers: list[str] = [""] * len(requests)
        media = [len(r.args) >= 3 for r in requests]
        for kind, generate in ((False, self.text_generate_until), (True, self.media_generate_until)):
            chosen = [i for i, has_media in enumerate(media) if has_media == kind]
            if chosen:
                for i, text in zip(chosen, generate([requests[i] for i in chosen], disable_tqdm), strict=True):
                    answers[i] = text
        return answers

    def text_generate_until(self, requests: list, disable_tqdm: bool) -> list[str]:
        """lm-eval's text path: the generate_until of the class lm-eval's multimodal class derives from."""
        return super(self.LM_EVAL_CLASS, self).generate_until(requests, disable_tqdm)  # type: ignore[misc]

    def media_generate_until(self, requests: list, disable_tqdm: bool) -> list[str]:
        return self.LM_EVAL_CLASS.generate_until(self, requests, disable_tqdm)


def lm_eval_class(alias: str, entry: str) -> type:
    """lm-eval's class `entry` ("module:Class"). Its module is imported while the registry names `entry` under
    `alias` (importing it registers the class under its alias, which the registry allows only over an entry naming
    that very class: it refuses ours, and lm-eval 0.4.13's own misnamed `hf-audiolm-qwen` entry, as "alias
    already registered"); the registry's entry is put back afterwards."""
    from lm_eval.api.registry import model_registry

    module, _, name = entry.partition(":")
    before = model_registry._objs.get(alias)
    model_registry._objs[alias] = entry  # the registry has no public way to replace an alias
    try:
        return getattr(importlib.import_module(module), name)
    finally:
        if before is not None:
            model_registry._objs[alias] = before


def repoint(alias: str, lm_eval_entries: tuple[str, ...], lm_eval_entry: str, ours: str) -> None:
    """Register `ours` ("module:Class", loaded when a run asks for it) under lm-eval's `alias`, only while the
    registry still holds one of lm-eval's own `lm_eval_entries` for it (as a name or as the loaded class).
    lm-eval's own class (`lm_eval_entry`) is imported first, so that a later import of its module (a user's, a
    test's) finds its registration done instead of refusing ours."""
    import lm_eval.models  # noqa: F401  (lm-eval's own entries, registered on import)
    from lm_eval.api.registry import model_registry

    current = model_registry._objs.get(alias)
    if isinstance(current, type):
        current = f"{current.__module__}:{current.__qualname__}"
    if current in lm_eval_entries:
        lm_eval_class(alias, lm_eval_entry)
        model_registry._objs[alias] = ours


def install() -> None:
    """`hf-multimodal` as lm-eval's class that also takes text-only requests (called by `va-bench lm-eval`)."""
    repoint(MULTIMODAL_ALIAS, (LM_EVAL_MULTIMODAL,), LM_EVAL_MULTIMODAL, _REPAIRED_MULTIMODAL)


@functools.cache
def _text_and_media_multimodal() -> type:
    base = lm_eval_class(MULTIMODAL_ALIAS, LM_EVAL_MULTIMODAL)

    class TextAndMediaHFMultimodalLM(TextAndMediaRequests, base):  # type: ignore[valid-type,misc]
        """lm-eval's `hf-multimodal`, taking text-only and image requests in one run."""

        LM_EVAL_CLASS = base

    return TextAndMediaHFMultimodalLM


def __getattr__(name: str) -> Any:
    """`TextAndMediaHFMultimodalLM`, built on first use (lm-eval's registry loads it by this module's name)."""
    if name == "TextAndMediaHFMultimodalLM":
        return _text_and_media_multimodal()
    raise AttributeError(name)
