"""One writer at a time for a folder two commands may share (a bench two builds write into).

An advisory `flock` on a lock file: the kernel releases it when its holder exits in any way (a kill -9
too), so no stale lock ever needs removing by hand. The second command waits, saying for whom, then
goes on and finds the first one's work done (its journal lines), instead of both reading a journal,
each rewriting it without the other's lines, and deleting each other's temporary files.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive(lock_file: Path, what: str) -> Iterator[None]:
    """Hold the lock on `lock_file` (created) for the block; wait, with a note on stderr, while another holds it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
            print(
                f"note: {what} is being written by pid {holder}; waiting for it to finish", file=sys.stderr, flush=True
            )
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
