"""Pickled checkpoint files are refused with one line, and never with advice to unpickle them.

torch.load (weights_only=True, the default since torch 2.6, which transformers relies on) refuses a
`.bin` checkpoint holding Python objects other than tensors, because unpickling them can run code. Its
message then suggests re-running with weights_only=False, the one thing a user must not do with a
file of unknown origin; this turns the refusal into an InputError naming the checkpoint and the safe
way out (a safetensors copy), instead of a traceback ending in that advice.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import InputError

_GLOBAL = re.compile(r"GLOBAL (\S+)")


@contextmanager
def refusing_pickled_code(what: str) -> Iterator[None]:
    """Inside, an UnpicklingError from loading a checkpoint becomes an InputError about `what`."""
    try:
        yield
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        detail = f" (it names {found.group(1)})" if found else ""
        raise InputError(
            f"{what}: the checkpoint holds pickled Python objects that are not tensors{detail}; refused, since "
            "loading them can run arbitrary code: use a safetensors checkpoint (model.safetensors) instead"
        ) from None
