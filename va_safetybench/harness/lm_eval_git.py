"""lm-eval's commit lookup, without git's complaint on stderr.

lm-eval records the git commit of the working directory by running `git describe --always` with git's
stderr left open, so every run started outside a git checkout printed `fatal: not a git repository`,
which reads as a failure of the run. `install` replaces that lookup with the same one, git's stderr
discarded (lm-eval's own fallback, reading .git from the working directory, is kept).
"""

from __future__ import annotations

import os
import subprocess


def quiet_git_commit_hash() -> str | None:
    """What lm_eval.loggers.utils.get_git_commit_hash returns, with nothing printed."""
    from lm_eval.loggers.utils import get_commit_from_path

    try:
        out = subprocess.check_output(["git", "describe", "--always"], stderr=subprocess.DEVNULL)  # noqa: S607
    except (subprocess.CalledProcessError, OSError):
        return get_commit_from_path(os.getcwd())
    return out.strip().decode()


def install() -> None:
    """Make lm-eval's evaluator use the quiet lookup (it imported the function by name)."""
    import lm_eval.evaluator

    lm_eval.evaluator.get_git_commit_hash = quiet_git_commit_hash
