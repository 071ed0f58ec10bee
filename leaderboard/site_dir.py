"""The site folder (`va-bench leaderboard --out`): the command writes and removes only files it made there.

A build records the files it wrote in a marker file, `.va-bench-site.json`. A later build into the same
folder replaces those files and removes the ones it no longer writes; anything else in the folder (a user's
own file, even inside `models/`) is left alone. A folder that holds anything and no marker is refused, so a
mistyped `--out` never overwrites a user's data; a site built before the marker existed is recognised by its
shape (index.html, assets/, models/*.html, samples/*.js and nothing else) and adopted.

Nothing is written through a symbolic link: the new files are made in a fresh staging folder inside the site
and renamed into place (a rename replaces a link, never its target), and a link where the site keeps a folder
(`samples -> /elsewhere`) is refused with a one-line error rather than followed.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from va_safetybench.errors import InputError
from va_safetybench.fileio import FileFormat, write_json

ASSETS = Path(__file__).parent / "assets"  # the site's CSS and JS, copied into every build
MARKER = ".va-bench-site.json"
SITE_MARKER = FileFormat("site marker", 1)  # {format_version, made_by, files: the paths the build wrote}
STAGING_PREFIX = ".va-bench-staging-"
TOP = ("index.html", "assets", "models", "samples", "compare")  # what a site consists of
LEGACY_SHAPE = {"models": ".html", "samples": ".js"}  # an unmarked site's folders: only these files


def claim(out: Path, option: str = "--out") -> list[str]:
    """The files an earlier build of this site wrote (relative POSIX paths); [] for a new or empty folder.

    InputError naming `option` when the folder holds anything a site build did not make, or a link where the
    site keeps a file or folder. Reads only: nothing is written before the caller has checked its inputs."""
    out = Path(out)
    if not out.exists():
        return []
    if not out.is_dir():
        raise InputError(f"{option} {out}: is a file, not a folder")
    for name in TOP:
        if (out / name).is_symlink():
            raise InputError(
                f"{option} {out}: {name} is a symbolic link; the site is written only into folders it made "
                "(remove the link)"
            )
    marker = out / MARKER
    if marker.is_file() and not marker.is_symlink():
        return _read_marker(marker)
    legacy = _legacy_site_files(out)
    if legacy is not None:
        return legacy
    raise InputError(
        f"{option} {out}: the folder holds files that no `va-bench leaderboard` build made (no {MARKER}); "
        "give a new or empty folder"
    )


def write(out: Path, owned: list[str], render: Callable[[Path], None]) -> list[str]:
    """Run `render(staging)` to make the whole site in a fresh folder, then move it into `out`, replacing the
    files of the previous build (`owned`, from claim) and removing those no longer made. Returns the new files."""
    out.mkdir(parents=True, exist_ok=True)
    _write_marker(out, owned)  # the folder is ours from here on, even if this build is killed
    for leftover in out.glob(STAGING_PREFIX + "*"):  # a killed build's staging folder
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        render(staging)
        made = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        _write_marker(out, sorted(set(owned) | set(made)))  # a kill while moving leaves nothing unlisted
        for rel in made:
            _real_folders(out, rel)
            dest = out / rel
            if dest.is_dir() and not dest.is_symlink():
                raise InputError(f"--out {out}: {rel} is a folder where the site writes a file")
            os.replace(staging / rel, dest)
        for rel in sorted(set(owned) - set(made)):
            _remove_owned(out, rel)
        _write_marker(out, made)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return made


def _real_folders(out: Path, rel: str) -> None:
    """Make the folders on the way to `rel` inside `out`; refuse a link or a file where one is needed."""
    folder = out
    for part in PurePosixPath(rel).parts[:-1]:
        folder = folder / part
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            folder.mkdir()
            continue
        if stat.S_ISLNK(mode):
            raise InputError(
                f"--out {out}: {folder.relative_to(out)} is a symbolic link; the site never writes through one"
            )
        if not stat.S_ISDIR(mode):
            raise InputError(f"--out {out}: {folder.relative_to(out)} is a file where the site keeps a folder")


def _remove_owned(out: Path, rel: str) -> None:
    """Remove a file an earlier build wrote, never through a link, then its folders if they became empty."""
    parts = PurePosixPath(rel).parts
    folder = out
    for part in parts[:-1]:
        folder = folder / part
        if folder.is_symlink() or not folder.is_dir():
            return
    path = out / rel
    if path.is_symlink() or path.is_file():
        path.unlink()
    for depth in range(len(parts) - 1, 0, -1):
        try:
            (out / PurePosixPath(*parts[:depth])).rmdir()  # only when empty: a user's file keeps its folder
        except OSError:
            return


def _safe(rel: object) -> bool:
    """A relative path inside the site: no absolute path, no '..', no empty or dot parts."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        return False
    path = PurePosixPath(rel)
    return not path.is_absolute() and all(part not in ("", ".", "..") for part in path.parts)


def _read_marker(marker: Path) -> list[str]:
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{marker}: unreadable site marker ({exc}); remove the folder or give another --out") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise InputError(f"{marker}: field 'files' must be a list of paths")
    return [f for f in files if _safe(f)]  # a hand-edited '../x' is never removed


def _write_marker(out: Path, files: list[str]) -> None:
    write_json(out / MARKER, SITE_MARKER, {"made_by": "va-bench leaderboard", "files": files}, indent=0)


def _legacy_site_files(out: Path) -> list[str] | None:
    """The files of a site built before the marker existed (or [] for an empty folder); None for anything else."""
    assets = {p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*") if p.is_file()}
    files: list[str] = []
    for entry in out.iterdir():
        if entry.name.startswith(".write-test-"):
            continue  # outdirs' probe, left by a kill
        if entry.name == "index.html" and entry.is_file():
            files.append(entry.name)
            continue
        if entry.name not in ("assets", *LEGACY_SHAPE) or not entry.is_dir():
            return None
        for path in entry.rglob("*"):
            rel = path.relative_to(out).as_posix()
            if path.is_dir() and not path.is_symlink():
                continue
            inside = path.relative_to(entry).as_posix()
            fits = inside in assets if entry.name == "assets" else path.suffix == LEGACY_SHAPE[entry.name]
            if path.is_symlink() or not fits or "/" in inside and entry.name != "assets":
                return None
            files.append(rel)
    if files and "index.html" not in files:
        return None
    return sorted(files)
