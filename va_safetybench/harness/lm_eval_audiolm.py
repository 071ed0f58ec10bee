"""lm-eval's own `hf-audiolm-qwen` model class, runnable: three repairs of lm-eval 0.4.13, nothing else changed.

As shipped, lm-eval 0.4.13 cannot run `--model hf-audiolm-qwen` on any task:
  1. its lazy model registry names `lm_eval.models.hf_audiolm:HFAudioLM`, a class that does not exist (the
     class is `HFAUDIOLMQWEN`), and importing the module to find it raises "alias already registered";
  2. it hands the processor the audio as `audios=`, a name transformers 5 dropped, so the processor sees
     `<|AUDIO|>` tokens and no audio ("Found 1 <|AUDIO|> tokens in the text but no audio inputs");
  3. `generate_until` moves the input ids to the literal device "cuda", which fails on a machine without one.
`install` (called by `va-bench lm-eval`) registers `RepairedHFAudioLMQwen` under lm-eval's own name, only while
the registry holds the broken entry: lm-eval's class, its prompts, placeholders, batching and decoding, with the
audio passed as `audio=` (where lm-eval passes `audios=`) and, only when the model is not on CUDA, "cuda" read as
the model's device.
"""

from __future__ import annotations

import functools
from typing import Any

ALIAS = "hf-audiolm-qwen"
_LM_EVAL_MODULE = "lm_eval.models.hf_audiolm"
_BROKEN_ENTRY = f"{_LM_EVAL_MODULE}:HFAudioLM"  # lm-eval 0.4.13's MODEL_MAPPING entry
_REPAIRED_ENTRY = f"{__name__}:RepairedHFAudioLMQwen"


def install() -> None:
    """Point `hf-audiolm-qwen` at the repaired class, loaded when a run asks for it (importing lm-eval's module
    and transformers' model classes only then). A registry entry other than lm-eval 0.4.13's is left alone."""
    import lm_eval.models  # noqa: F401  (lm-eval's own entries, registered on import)
    from lm_eval.api.registry import model_registry

    if model_registry._objs.get(ALIAS) == _BROKEN_ENTRY:  # the registry has no public way to replace an alias
        model_registry._objs[ALIAS] = _REPAIRED_ENTRY


@functools.cache
def _repaired_class() -> type:
    import torch
    from lm_eval.api.registry import model_registry

    from .cuda_on_cpu import cuda_means

    # lm-eval's module registers its class under ALIAS when imported; it may replace only the placeholder that
    # names that very class, so the entry names it while the module loads (the registry then stores ours).
    model_registry._objs[ALIAS] = f"{_LM_EVAL_MODULE}:HFAUDIOLMQWEN"
    from lm_eval.models.hf_audiolm import HFAUDIOLMQWEN

    class RepairedHFAudioLMQwen(HFAUDIOLMQWEN):
        """lm-eval's HFAUDIOLMQWEN with the audio keyword transformers 5 takes and a device that exists."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.processor = _AudioKeyword(self.processor)  # type: ignore[has-type]

        def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
            if torch.device(self.device).type == "cuda":
                return super().generate_until(requests, disable_tqdm)
            with cuda_means(torch.device(self.device)):
                return super().generate_until(requests, disable_tqdm)

    return RepairedHFAudioLMQwen


def __getattr__(name: str) -> Any:
    """`RepairedHFAudioLMQwen`, built on first use (lm-eval's registry loads it by this module's name)."""
    if name == "RepairedHFAudioLMQwen":
        return _repaired_class()
    raise AttributeError(name)


class _AudioKeyword:
    """The processor, called with `audio=` where lm-eval passes `audios=`; everything else is the processor's."""

    def __init__(self, processor: Any) -> None:
        self._processor = processor

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "audios" in kwargs:
            kwargs["audio"] = kwargs.pop("audios")
        return self._processor(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._processor, name)
