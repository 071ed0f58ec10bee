"""Bad input met by our tasks under plain `lm_eval` reads as one line, as under `va-bench`.

`va-bench` (and `va-bench lm-eval`) print our errors as one line and exit 2. Plain `lm_eval run ... --include_path
tasks` has no such handler, so a missing bench, a bad judge option or a video task given to an image-only model
class ended in a traceback. `report_in_one_line` (called when a task of ours loads) makes the interpreter print
an InputError that nothing caught as `lm_eval: error: MESSAGE` (exit status 1, the interpreter's for an uncaught
error); every other exception keeps the hook it had.
"""

from __future__ import annotations

import sys
from types import TracebackType

from ..errors import VABenchError
from ..printable import for_terminal


class _OneLineInputErrors:
    """sys.excepthook: one of our errors as one line; anything else to the hook that was in place."""

    def __init__(self, previous) -> None:
        self.previous = previous

    def __call__(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, VABenchError):
            print(f"lm_eval: error: {for_terminal(exc)}", file=sys.stderr)
        else:
            self.previous(exc_type, exc, tb)


def report_in_one_line() -> None:
    """Install the hook once, chained to the one in place."""
    if not isinstance(sys.excepthook, _OneLineInputErrors):
        sys.excepthook = _OneLineInputErrors(sys.excepthook)
