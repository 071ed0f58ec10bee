"""Loading diffusers pipelines for the generated-media backends (`--dm` / `--sd diffusers:MODEL`)."""

from __future__ import annotations

from ..errors import InputError, require_extra


def load_pipeline(option: str, model: str, device: str | None, loader: str, what: str):
    """Load `model` with `diffusers.<loader>` on `device` (default: CUDA when present), progress bars off.

    `option` and `what` only shape the error message (e.g. "--dm", "a text-to-video pipeline").
    The safety checker is removed: on a benchmark of harmful prompts a blacked-out output is not the item.
    """
    import torch

    diffusers = require_extra("diffusers", "diffusers", f"{option} diffusers:MODEL")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        pipe = getattr(diffusers, loader).from_pretrained(model, torch_dtype=dtype)
    except (OSError, ValueError) as exc:
        raise InputError(f"{option} diffusers:{model}: cannot load {what} ({str(exc)[:200]})") from None
    if getattr(pipe, "safety_checker", None) is not None:
        pipe.safety_checker = None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
