"""Harness model classes that name the device "cuda" literally, run on a machine without CUDA.

lm-eval's `hf-audiolm-qwen` and most of lmms-eval's model classes (qwen2_audio, qwen3_omni, ...) move their inputs
with `.to("cuda")` whatever device the model was loaded on, so on a CPU machine (CI, a laptop with a tiny
checkpoint) they stop at the first request. Inside `cuda_means(device)`, a tensor moved to "cuda" (the bare name,
as a positional argument or `device=`) goes to `device` instead; any other move is untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def cuda_means(device: Any) -> Iterator[None]:
    import torch

    original = torch.Tensor.to

    def to(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if args and _is_bare_cuda(args[0]):
            args = (device, *args[1:])
        if _is_bare_cuda(kwargs.get("device")):
            kwargs["device"] = device
        return original(self, *args, **kwargs)

    torch.Tensor.to = to  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        torch.Tensor.to = original  # type: ignore[method-assign]


def _is_bare_cuda(value: Any) -> bool:
    return isinstance(value, str) and value == "cuda"
