"""lm-eval's own `hf-audiolm-qwen` model class, runnable: three repairs of lm-eval 0.4.13 and mixed runs.

As shipped, lm-eval 0.4.13 cannot run `--model hf-audiolm-qwen` on any task:
  1. its lazy model registry names `lm_eval.models.hf_audiolm:HFAudioLM`, a class that does not exist (the
     class is `HFAUDIOLMQWEN`), and importing the module to find it raises "alias already registered";
  2. it hands the processor the audio as `audios=`, a name transformers 5 dropped, so the processor sees
     `<|AUDIO|>` tokens and no audio ("Found 1 <|AUDIO|> tokens in the text but no audio inputs");
  3. `generate_until` moves the input ids to the literal device "cuda", which fails on a machine without one.
`install` (called by `va-bench lm-eval`) registers `RepairedHFAudioLMQwen` under lm-eval's own name, only while
the registry holds the broken entry: lm-eval's class, its prompts, placeholders, batching and decoding, with the
audio passed as `audio=` (where lm-eval passes `audios=`) and, only when the model is not on CUDA, "cuda" read as
the model's device. Like `hf-multimodal` under `va-bench lm-eval`, it also takes the text-only requests of a run
that mixes them with audio ones (a fourth gap: lm-eval's class takes audio requests only; lm_eval_mixed.py).
"""

from __future__ import annotations

import functools
from typing import Any

from .lm_eval_mixed import TextAndMediaRequests, lm_eval_class, repoint

ALIAS = "hf-audiolm-qwen"
_BROKEN_ENTRY = "lm_eval.models.hf_audiolm:HFAudioLM"  # lm-eval 0.4.13's MODEL_MAPPING entry
LM_EVAL_ENTRY = "lm_eval.models.hf_audiolm:HFAUDIOLMQWEN"
_REPAIRED_ENTRY = f"{__name__}:RepairedHFAudioLMQwen"


def install() -> None:
    """Point `hf-audiolm-qwen` at the repaired class, loaded when a run asks for it. A registry entry other than
    lm-eval 0.4.13's is left alone."""
    repoint(ALIAS, (_BROKEN_ENTRY,), LM_EVAL_ENTRY, _REPAIRED_ENTRY)


@functools.cache
def _repaired_class() -> type:
    import torch

    from .cuda_on_cpu import cuda_means

    base = lm_eval_class(ALIAS, LM_EVAL_ENTRY)

    class RepairedHFAudioLMQwen(TextAndMediaRequests, base):  # type: ignore[valid-type,misc]
        """lm-eval's HFAUDIOLMQWEN with the audio keyword transformers 5 takes and a device that exists, taking
        text-only requests beside the audio ones (lm_eval_mixed)."""

        LM_EVAL_CLASS = base

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.processor = _AudioKeyword(self.processor)  # type: ignore[has-type]

        def media_generate_until(self, requests: list, disable_tqdm: bool) -> list[str]:
            if torch.device(self.device).type == "cuda":
                return super().media_generate_until(requests, disable_tqdm)
            with cuda_means(torch.device(self.device)):
                return super().media_generate_until(requests, disable_tqdm)

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
