"""The project's errors, one class per cause; only the command line maps them to an exit status.

    VABenchError                 everything we raise on purpose: a one-line message, never a traceback
    ├── InputError               bad input: a file, an item or an option the user gave (names it)
    │   ├── ArchiveRejected      an official release archive or member refused (corrupt, oversized, missing)
    │   ├── MissingExtra         an optional package this path needs is not installed (names the extra)
    │   └── EndpointMisconfigured  an OpenAI-compatible endpoint that cannot be used (URL, API key, refusal)
    └── CheckFailed              a verification found a problem (build --check, regress)

The three causes below InputError are also bad input in the user's sense (something named on the command
line cannot be served by this install, endpoint or archive), so a caller validating input as a whole catches
InputError, and one that can do better for a cause (install the extra, retry later) catches that class.
Library code raises these and never exits; `va_safetybench.cli.EXIT_STATUS` says which status each cause gets.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class VABenchError(Exception):
    """Base of every error the project raises on purpose; its message is one line that names the culprit."""


class InputError(VABenchError):
    """Bad user input (a file, an item, an option)."""


class ArchiveRejected(InputError):
    """An official release archive, folder or member that is refused before it is trusted."""


class MissingExtra(InputError):
    """An optional dependency is missing: the message says which `pip install 'va-safetybench[EXTRA]'` fixes it."""


class EndpointMisconfigured(InputError):
    """An OpenAI-compatible endpoint that cannot be used as configured (bad base_url, no API key, refused)."""


class CheckFailed(VABenchError):
    """A verification found a problem (build --check, regress)."""


def require_extra(module: str, extra: str | None, needed_by: str, package: str | None = None) -> ModuleType:
    """`module`, imported; MissingExtra naming what needs it and how to install it otherwise.

    `extra` is the pyproject extra that installs it (None: a plain dependency, named by `package`, which
    defaults to the module's top-level name), `needed_by` what the user asked for ("--tts edge",
    "gemma3n models"). The one shape of a missing-extra error in the project."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = package or module.split(".")[0]
        install = f"pip install 'va-safetybench[{extra}]'" if extra else f"pip install '{what}'"
        missing = exc.name or module
        raise MissingExtra(f"{needed_by} needs the {what} package ({missing} is not importable): {install}") from None
