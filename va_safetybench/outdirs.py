"""Output folders proven writable before any expensive work starts.

A folder that cannot be written is found by writing a probe file into it, not by checking permission
bits: root ignores them, read-only mounts and immutable folders do not show in them. Every command
that writes results (eval's run directory, the judge's, the leaderboard's site) calls this first, so
that an unwritable --out costs an exit 2 before the first request instead of the work done until
the first write.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError


def writable_dir(path: Path, option: str, inside: tuple[str, ...] = ()) -> Path:
    """`path`, created when missing, after a probe file was written in it and in each of its subfolders
    `inside` that already exists (a rerun writes into those); InputError naming `option` otherwise."""
    path = Path(path)
    for folder in (path, *(path / name for name in inside if (path / name).exists())):
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{option} {folder}: is a file, not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise InputError(f"{option} {folder}: cannot write there ({exc.strerror or exc})") from None
    return path
