"""Named option sets for `sea-align`: the paper's settings (the default, for real models on a GPU) and `quick`
(a first try, a tiny model or a CPU: minutes, not hours).

A preset only fills options the command line leaves unset, so `--preset quick --k 8` keeps K=8.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # K embeddings per batch, up to 300 Adam steps each, 256 answer tokens: the paper's optimisation and training
    "paper": {"k": 16, "max_steps": 300, "lr": 0.01, "max_response_tokens": 256, "limit": None},
    # a handful of items and steps, short answers: every stage runs, in seconds to minutes on a CPU
    "quick": {"k": 4, "max_steps": 8, "lr": 0.01, "max_response_tokens": 32, "limit": 8},
}
DEFAULT = "paper"


def apply_preset(options: dict[str, Any], preset: str) -> dict[str, Any]:
    """`options` with each preset option the user left unset (None) filled from `preset`."""
    values = PRESETS[preset]
    return {**options, **{k: v for k, v in values.items() if k in options and options[k] is None}}
