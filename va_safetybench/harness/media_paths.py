"""The one place a manifest's `media` field becomes a file path, and the checks that file must pass.

Eval, lm-eval's task loading (docs.task_docs) and `va-bench build --check` all resolve media here:
- the path, with every symlink resolved, must lie inside the bench directory: a manifest line naming
  `/home/me/secret.jpg`, `../../etc/passwd` or a symlink pointing out of the bench is refused, so no
  file from outside the bench is read or sent to a model;
- it must be a regular file (a FIFO or device would hang or flood the reader);
- an `ok` item's file must have the sha256 its manifest line records, and a duration (audio, video)
  or size (images) within the limits of limits.py (MEDIA_SECONDS, IMAGE_PIXELS; each changed by a variable).
Each refusal is an InputError naming the manifest file and line, raised before any model is loaded.

Hashing a full bench (9 media tasks x 972 items, gigabytes with diffusion video) on every eval would
cost seconds, so a verified file is remembered in BENCH/.build/verified-media.json under its stat
signature (size, mtime_ns, ctime_ns, inode). Writing to a file changes its mtime and ctime, and no
user can set a ctime back, so an unchanged signature means the bytes that were hashed (the rule git's
index uses); later loads only stat the file. A file modified less than RACY_SECONDS before it was
hashed is not remembered, since a second write within the same timestamp tick would not show.
`va-bench build` records what it wrote (record_bench_media), so the first eval starts warm too.
The record is a cache, never the authority: the manifest's sha256 is; a read-only bench is checked
by hashing on every load.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fileio import FileFormat, write_json
from ..limits import IMAGE_PIXELS, MEDIA_SECONDS, check_environment
from ..records import ManifestEntry

VERIFIED_FILE = Path(".build") / "verified-media.json"
# {files: {path: [size, mtime_ns, ctime_ns, inode, sha256, extent]}}: the files eval checked, by stat signature
VERIFIED_MEDIA = FileFormat("verified-media record", 1)
RACY_SECONDS = 2.0


@dataclass(frozen=True)
class ManifestLine:
    """One parsed manifest line and where it came from (for error messages)."""

    manifest: Path
    number: int
    entry: ManifestEntry

    @property
    def where(self) -> str:
        item = f"{self.entry.task or self.manifest.stem} {self.entry.scenario}/{self.entry.id}"
        return f"{self.manifest}:{self.number} ({item})"


class ParentCache:
    """Real paths of media folders: a bench has a few dozen, its manifests name thousands of files."""

    def __init__(self) -> None:
        self._real: dict[str, str] = {}

    def real(self, folder: str) -> str:
        if folder not in self._real:
            self._real[folder] = os.path.realpath(folder)
        return self._real[folder]


def resolve_media(
    bench: Path, line: ManifestLine, parents: ParentCache | None = None
) -> tuple[Path, os.stat_result | None]:
    """(the real path of the line's media file inside `bench`, its stat or None when missing).

    `bench` must already be a real path (Path.resolve()). InputError when the path is not a relative
    path, resolves outside the bench, or names something other than a regular file.
    """
    real, st = _resolve(str(bench), line, parents or ParentCache())
    return Path(real), st


def _resolve(bench: str, line: ManifestLine, parents: ParentCache) -> tuple[str, os.stat_result | None]:
    """resolve_media on strings: it runs for every line of every manifest at each eval start."""
    rel = line.entry.media
    if not isinstance(rel, str) or not rel.strip() or "\0" in rel:
        raise InputError(f"{line.where}: 'media' must be a file path inside the bench, got {_short(rel)}")
    folder, name = os.path.split(os.path.join(bench, rel))  # an absolute `rel` replaces the bench: caught below
    real = os.path.join(parents.real(folder), name)
    st: os.stat_result | None
    try:
        link = os.lstat(real)
        if stat.S_ISLNK(link.st_mode):
            real = os.path.realpath(real)
            link = os.stat(real)
        st = link
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(f"{line.where}: media {_short(rel)} cannot be read ({exc.strerror})") from None
    if name in ("", ".", "..") or not real.startswith(bench + os.sep):
        raise InputError(
            f"{line.where}: media {_short(rel)} resolves outside the bench {bench}; refused (only the bench's own "
            "files are read and sent to models)"
        )
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise InputError(f"{line.where}: media {_short(rel)} is not a regular file")
    return real, st


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class MediaVerifier:
    """Checks `ok` media files against their manifest lines, remembering verified files by stat signature."""

    def __init__(self, bench: Path) -> None:
        check_environment()  # a bad limit variable is refused here, not met item by item while decoding
        self.bench = bench.resolve()
        self._root = str(self.bench)
        self.record_path = self.bench / VERIFIED_FILE
        self.parents = ParentCache()
        self._records = _read_records(self.record_path)
        self._fresh: dict[str, list] = {}

    def media(self, line: ManifestLine, modality: str, hint: str) -> str:
        """The checked real path of the line's media; an `ok` line's file must exist and pass every check."""
        real, st = _resolve(self._root, line, self.parents)
        if line.entry.status != "ok":
            return real  # a failed render stays in as an error item; its file, if any, is not trusted
        if st is None:
            raise InputError(f"{line.where}: {line.entry.media} is missing: {hint}")
        expected = line.entry.sha256
        if not isinstance(expected, str) or not expected:
            raise InputError(f"{line.where}: an ok item without a sha256: {hint}")
        key = real[len(self._root) + 1 :]
        signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        record = self._records.get(key)
        if isinstance(record, list) and len(record) == 6 and record[:4] == signature and record[4] == expected:
            extent = record[5]
        else:
            extent = self._verify(line, Path(real), signature, expected, modality)
        _check_extent(line, modality, extent)
        return real

    def _verify(self, line: ManifestLine, path: Path, signature: list, expected: str, modality: str) -> float | None:
        from ..materialize.hashing import file_sha256

        if file_sha256(path) != expected:
            raise InputError(
                f"{line.where}: {line.entry.media} does not match the sha256 its manifest line records (changed "
                f"since the build): `va-bench build --check --out {self.bench}` lists every such file; rebuild them"
            )
        extent = media_extent(path, modality)
        st = path.stat()
        settled = time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_SECONDS * 1e9
        if settled and [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino] == signature:
            self._fresh[str(path)[len(self._root) + 1 :]] = [*signature, expected, extent]
        return extent

    def save(self) -> None:
        """Add this run's verified files to the record (merged with what another process wrote meanwhile);
        a bench that cannot be written is simply checked by hashing next time."""
        if not self._fresh:
            return
        records = {**_read_records(self.record_path), **self._fresh}
        try:
            write_json(self.record_path, VERIFIED_MEDIA, {"files": records}, indent=None)
        except OSError:  # read-only or full: the record is a cache, the next load hashes again
            return
        self._records, self._fresh = records, {}


_parsed: dict[str, tuple[tuple, dict]] = {}  # record file -> (its stat, its files): parsed once per process


def _read_records(path: Path) -> dict[str, list]:
    """The record's {relative path: [size, mtime_ns, ctime_ns, inode, sha256, extent]}; {} when absent or unreadable."""
    try:
        st = path.stat()
        signature = (st.st_size, st.st_mtime_ns, st.st_ino)
        cached = _parsed.get(str(path))
        if cached and cached[0] == signature:
            return cached[1]
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    files = files if isinstance(files, dict) else {}
    _parsed[str(path)] = (signature, files)
    return files


def media_extent(path: Path, modality: str) -> float | None:
    """Seconds of an audio or video file, pixels of an image, read from the file's header; None when the
    header cannot be read (the item then fails where the model's reader decodes it, as an error)."""
    try:
        if modality == "audio":
            import soundfile

            return float(soundfile.info(str(path)).duration)
        if modality == "video":
            import av

            with av.open(str(path)) as container:
                if container.duration:
                    return container.duration / 1_000_000
                stream = container.streams.video[0]
                return float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        if modality == "image":
            from PIL import Image

            with Image.open(path) as img:
                return float(img.width * img.height)
    except Exception:  # any reader failure: unknown extent, reported by the decoder later
        return None
    return None


def _check_extent(line: ManifestLine, modality: str, extent: float | None) -> None:
    if extent is None:
        return
    seconds, pixels = MEDIA_SECONDS.value(), IMAGE_PIXELS.value()
    if modality in ("audio", "video") and extent > seconds:
        raise InputError(
            f"{line.where}: {line.entry.media} lasts {extent:.0f} s, over the {seconds:.0f} s a benchmark clip "
            f"may last (${MEDIA_SECONDS.variable}); refused before any model reads it"
        )
    if modality == "image" and extent > pixels:
        raise InputError(
            f"{line.where}: {line.entry.media} has {extent / 1e6:.0f} megapixels, over the "
            f"{pixels / 1e6:.0f} MP limit (${IMAGE_PIXELS.variable}); refused before any model reads it"
        )
