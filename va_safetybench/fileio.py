"""Writing files so that a crash leaves the old file or the new one, and reading JSONL that a crash may have torn.

Every file format of ours carries its version: a `FileFormat` (name, version) declared by the module that owns the
format, and written by `write_json`, `write_jsonl`, `append_jsonl` (the version in each object's `format_version`) or
`open_sqlite` (sqlite's user_version). A file without a version is version 1: what was written before versions.
`atomic_write` / `atomic_writer` write bytes that are not a format of ours (media, a downloaded file kept as it came,
HTML); tests/test_code_health.py holds the list of those, so that a new writer without a version fails there.

Two kinds of file, two rules:
- Whole files (summaries, manifests, site pages, caches kept as one JSON): written by `atomic_write` /
  `atomic_writer` to a temporary sibling (`.NAME.PID.RANDOM.tmp`, one scheme everywhere), flushed to disk, then
  renamed over the target. A reader never sees half a file; a failed write removes its temporary file.
- Append-only logs (response cache, journals, verdicts as they arrive): written by `append_jsonl`, one JSON
  object per line, under an exclusive lock on the file, fsynced per batch; a torn tail left by a kill or a full
  disk is cut off before the next append, so a torn tail is the only damage a crash can do and it never ends up
  in the middle of the file.
`jsonl_lines` / `read_jsonl` read both: a last line without its newline that is not a whole JSON object (a
write cut at any byte, inside a multi-byte UTF-8 character too) is ignored; a bad line anywhere else is an
InputError naming the file and the line, unless the caller reads a disposable cache (`skip_bad=True`).
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import json
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError

FORMAT_FIELD = "format_version"  # in every JSON object of ours written; absent in files written before versions (= 1)

try:  # advisory locks: POSIX; elsewhere appends go unlocked (one writer per file is then the caller's rule)
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms the project runs on
    fcntl = None  # type: ignore[assignment]


# a write refused for want of room (or a file system gone read-only): the machine's state, not a bug; every file
# written here survives it whole (atomic writes keep the old file, appends cut their own fragment)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` is a write refused for want of room (or by a read-only file system)."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def temporary_sibling(path: Path) -> Path:
    """A fresh name beside `path` for writing it: hidden, unique per process and call, ending in .tmp."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextmanager
def atomic_writer(path: Path) -> Iterator[Path]:
    """Yield a temporary path for a writer that makes the file itself (pyarrow, safetensors, a stream); when the
    block ends it is renamed over `path`, and removed when the block raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        if tmp.exists():
            _fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # a read-only file system refuses even removing a missing file
            tmp.unlink(missing_ok=True)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` (text as UTF-8) so that a reader sees the old content or the new, never a part."""
    with naming(path), atomic_writer(path) as tmp, open(tmp, "xb") as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        fh.flush()
        os.fsync(fh.fileno())


@dataclass(frozen=True)
class FileFormat:
    """One format of file that va-safetybench writes: what it is (named in messages) and the version its writer
    writes now. Bump `version` when the shape changes, and read the older one where the file is read."""

    name: str
    version: int = 1

    def stamp(self, value: dict[str, Any]) -> dict[str, Any]:
        """`value` with this format's version first (a version already in `value` is replaced)."""
        if not isinstance(value, dict):
            raise TypeError(f"{self.name}: a versioned file holds JSON objects, not {type(value).__name__}")
        return {FORMAT_FIELD: self.version, **{k: v for k, v in value.items() if k != FORMAT_FIELD}}

    def version_of(self, value: dict[str, Any], where: str, error: type[InputError] = InputError) -> int:
        """The version a file's object was written in (1 without one); `error` naming `where` for a version that
        is not a positive integer or is newer than this code reads."""
        version = value.get(FORMAT_FIELD, 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise error(f"{where}: {FORMAT_FIELD} must be a positive integer, found {version!r}")
        if version > self.version:
            raise error(
                f"{where}: {self.name} format version {version} is newer than this va-safetybench reads "
                f"({self.version}); upgrade va-safetybench"
            )
        return version


def _check_format(fmt: FileFormat) -> None:
    if not isinstance(fmt, FileFormat):  # a writer of ours names its format: that is how every file gets a version
        raise TypeError(f"expected the FileFormat of the file written, got {fmt!r}")


def write_json(
    path: Path, fmt: FileFormat, value: dict[str, Any], indent: int | None = 1, sort_keys: bool = False
) -> None:
    """`value` as JSON, `format_version` first (UTF-8, non-ASCII kept, a final newline), written by `atomic_write`."""
    _check_format(fmt)
    atomic_write(path, json.dumps(fmt.stamp(value), indent=indent, ensure_ascii=False, sort_keys=sort_keys) + "\n")


def write_jsonl(path: Path, fmt: FileFormat, rows: Iterable[dict[str, Any]]) -> None:
    """Rows as JSON Lines, each with `format_version` first, written by `atomic_write`."""
    _check_format(fmt)
    atomic_write(path, jsonl_text(fmt.stamp(row) for row in rows))


def jsonl_text(rows: Iterable[Any]) -> str:
    """JSON Lines: one compact JSON value per line, non-ASCII kept, each line ended by a newline."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@dataclass(frozen=True)
class JsonLine:
    """One line of a JSONL file: where it is (for error messages) and the JSON object it holds."""

    path: Path
    number: int  # 1-based
    value: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.number}"


def jsonl_lines(path: Path, skip_bad: bool = False, torn_tail_ok: bool = True) -> list[JsonLine]:
    """Every JSON object line of `path`, numbered; blank lines are skipped.

    A last line that lacks its newline and is not a whole JSON object is a torn write and is ignored, wherever the
    cut fell (inside a string, a number, a multi-byte UTF-8 character). Any other line that is not valid UTF-8,
    not JSON or not an object is an InputError naming the file and the line, or skipped with `skip_bad` (a
    cache whose lost line costs only its recomputation). A missing file is an InputError too. With `torn_tail_ok`
    false (a file a person wrote, not one a killed writer may have cut), a bad last line is an error like any other.
    A UTF-8 byte-order mark at the start (what Windows tools and spreadsheets put there) is the file's encoding mark,
    not part of line 1; CRLF line ends read as LF."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    chunks = data.removeprefix(codecs.BOM_UTF8).split(b"\n")
    tail = chunks.pop()  # b"" when the file ends with a newline (or is empty)
    lines: list[JsonLine] = []
    for number, chunk in enumerate(chunks, 1):
        if not chunk.strip():
            continue
        value, problem = _parse(chunk)
        if problem is None:
            lines.append(JsonLine(path, number, value))
        elif not skip_bad:
            raise InputError(f"{path}:{number}: {problem}")
    if tail.strip():
        value, problem = _parse(tail)
        if problem is None:  # a complete object whose newline was never written: keep it
            lines.append(JsonLine(path, len(chunks) + 1, value))
        elif not torn_tail_ok and not skip_bad:
            raise InputError(f"{path}:{len(chunks) + 1}: {problem}")
    return lines


def read_jsonl(path: Path, skip_bad: bool = False) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, in order (the rules of `jsonl_lines`)."""
    return [line.value for line in jsonl_lines(path, skip_bad)]


def _parse(chunk: bytes) -> tuple[Any, str | None]:
    """(the object, None), or (None, why the line is not one)."""
    try:
        value = json.loads(chunk.decode("utf-8"))  # not json.loads(bytes): that guesses UTF-16 from a BOM
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg})"
    if not isinstance(value, dict):
        return None, f"not a JSON object (a {type(value).__name__})"
    return value, None


def append_jsonl(path: Path, fmt: FileFormat, rows: Iterable[dict[str, Any]]) -> None:
    """Append `rows` as JSON lines, each with `format_version` first, durably (one write, then fsync), holding an
    exclusive lock on the file.

    A torn tail left by a writer that died mid-line is cut off first (under the lock no live writer can be
    mid-line), so the new lines never follow a fragment; a reader then sees every complete line. A tail
    that is a whole object without its newline (written by another tool) is kept and ended instead."""
    _check_format(fmt)
    data = jsonl_text(fmt.stamp(row) for row in rows).encode("utf-8")
    if not data:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path), open(path, "a+b", buffering=0) as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            _cut_torn_tail(fh)
            start = fh.seek(0, os.SEEK_END)
            try:
                view = memoryview(data)
                while view:  # a full disk makes a short write first, then ENOSPC
                    view = view[fh.write(view) :]
                os.fsync(fh.fileno())
            except OSError:
                with contextlib.suppress(OSError):  # a full disk leaves no fragment (a kill still may: see above)
                    fh.truncate(start)
                raise
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Give an OSError raised in the block the file's name when it has none (a write on an open file, say), so
    that the one-line error a full disk becomes names the file it could not write."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def _cut_torn_tail(fh) -> None:
    """Make an open file end with a newline: a last line that is a whole JSON object (its newline never written)
    gets one, a torn fragment is truncated away (the readers' rule, `jsonl_lines`)."""
    end = fh.seek(0, os.SEEK_END)
    if end == 0:
        return
    fh.seek(end - 1)
    if fh.read(1) == b"\n":
        return
    position, start = end, end
    while position > 0:
        start = max(0, position - (1 << 16))
        fh.seek(start)
        newline = fh.read(position - start).rfind(b"\n")
        if newline >= 0:
            start += newline + 1
            break
        position = start
    fh.seek(start)
    if _parse(fh.read(end - start))[1] is None:
        fh.write(b"\n")
    else:
        fh.truncate(start)


def open_sqlite(path: Path, fmt: FileFormat, timeout: float = 30) -> sqlite3.Connection:
    """A sqlite database of format `fmt`, its version in sqlite's user_version (0, a database made before
    versions, is version 1); InputError naming the file for one newer than this code reads. A new database gets
    the version; the caller creates its tables."""
    _check_format(fmt)
    db = sqlite3.connect(path, timeout=timeout)
    found = db.execute("PRAGMA user_version").fetchone()[0]
    fmt.version_of({FORMAT_FIELD: found or 1}, str(path))
    if found != fmt.version:  # a new file, or one from before versions (the same tables)
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only one is read as it is
            db.execute(f"PRAGMA user_version = {int(fmt.version)}")
            db.commit()
    return db
