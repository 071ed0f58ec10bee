"""Small file systems the hardening tests mount to meet a full disk or a read-only bench for real.

A tmpfs of a few hundred KiB fills up with ENOSPC exactly as a full disk does; remounted read-only it
refuses every write with EROFS, as a read-only share does. Mounting needs root in a machine or container
that allows it (CI runs as root); elsewhere the test that asked is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A fresh tmpfs of `size` (mount's syntax: 300k, 2m) mounted on `path` for the block; skip where none can be."""
    path.mkdir(parents=True, exist_ok=True)
    if not shutil.which("mount"):
        pytest.skip("no mount command on this machine: cannot make a small file system")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root where mounts are allowed): {proc.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path: Path) -> None:
    """Make the tmpfs mounted on `path` read-only (EROFS on every write, for root too)."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def fill(path: Path, keep: int = 0) -> None:
    """Fill the file system holding `path` until at most `keep` bytes are free (a file named .filler)."""
    filler = path / ".filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    if keep:
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - keep))
    os.close(fd)


def resize(path: Path, size: str) -> None:
    """Grow (or shrink) the tmpfs mounted on `path`, its files kept: space freed without touching them."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True, capture_output=True)
