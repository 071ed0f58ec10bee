"""The official releases' media files, found where a user keeps them and checked before they are trusted.

What the releases are (ZeroNLP/SEA's README and VA-SafetyBench/evaluate_*.py; MM-SafetyBench):
  VA-SafetyBench  Hugging Face dataset luweikai/VA-SafetyBench: `video.zip` -> Video/{scenario}/{DM|TYPO|DM_TYPO}/{id}.mp4,
                  `audio.zip` -> Audio/{scenario}/{Audio_only|KPT|KPT_noise}/{id}.mp3 (edge-tts), members possibly
                  under one leading folder.
  MM-SafetyBench  the authors' `imgs/{scenario}/{SD|TYPO|SD_TYPO}/{id}.jpg`, mirrored on the Hub as
                  PKU-Alignment/MM-SafetyBench (`data/{scenario without number}/{SD|TYPO|SD_TYPO}.parquet`, rows id, image).
A source is a zip holding such members, an unzipped folder (`Video/`, `Audio/`, `imgs/` at most two folders
down), or the Hub mirror's parquet files (unpacked once into the bench's `.build/hub/`).

Trust is earned, in this order: an index of every member, with each member's declared size capped by
medium (MAX_BYTES) and its compression ratio capped (MAX_RATIO), so a zip bomb is refused before a byte is
extracted; every member an item needs present (a missing one names the item and the source); on copy
the bytes read are capped again (a member whose stream outgrows its declared size is refused), the CRC
checked by the zip reader, and the copy decoded by a real reader (PyAV for mp4, libsndfile for mp3,
Pillow for jpg) before it is renamed into the bench. Any failure is ArchiveRejected naming the member and
the source. A zip's sha256 (for the manifest's provenance) is computed once and remembered by path,
size and mtime, so a rebuild reads only the zip's directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArchiveRejected, InputError
from ..fileio import FileFormat, atomic_write, write_json
from ..materialize.hashing import file_sha256
from .source_spec import MediaSource

VA_REPO = "luweikai/VA-SafetyBench"
MMSB_REPO = "PKU-Alignment/MM-SafetyBench"
MMSB_REVISION = os.environ.get("VA_BENCH_MMSB_HUB_REVISION", "main")
ARCHIVE_OF = {"Video": "video.zip", "Audio": "audio.zip"}  # the VA-SafetyBench archive of each medium
RELEASE_TOP = {"Video": "Video", "Audio": "Audio", "Image": "imgs"}  # our layout's top folder -> the release's
RELEASE_EXT = {"Video": "mp4", "Audio": "mp3", "Image": "jpg"}
MAX_BYTES = {"Video": 256 << 20, "Audio": 64 << 20, "Image": 64 << 20}  # far above any official file
MAX_RATIO = 50  # declared size / compressed size; the official media are already compressed (ratio ~1)
_RATIO_FLOOR = 1 << 20  # members smaller than this are not ratio-checked (tiny files compress well)
_MEMBER = re.compile(r"(?:^|/)(Video|Audio|imgs)/([^/]+)/([^/]+)/([^/]+)\.(mp4|mp3|jpg)$")
_TOP_OF = {v: k for k, v in RELEASE_TOP.items()}

Key = tuple[str, str, str, str]  # (our top folder, scenario, variant, id)
# the markers in BENCH/.build/hub/: a zip's remembered sha256 ({file, size, mtime_ns, sha256}) and a parquet file's
# finished unpacking (done.json: {parquet, sha256}); version 1 with or without format_version
RELEASE_STATE = FileFormat("release marker", 1)


@dataclass(frozen=True)
class Member:
    source: int  # index into Release.sources
    name: str  # the member's name in the zip, or its path relative to the folder
    size: int  # declared (zip) or on-disk size
    stamp: int  # zip CRC, or the file's mtime_ns: what says the bytes changed


@dataclass(frozen=True)
class Source:
    kind: str  # "zip" | "folder"
    path: str  # the zip file or the folder
    label: str  # what provenance calls it (a file name, or a Hub file)
    sha256: str | None  # of the zip or parquet file; None for a folder the user unzipped


def key_of(top: str, scenario: str, variant: str, item_id: str) -> Key:
    return (top, scenario, variant, item_id)


def member_path(key: Key) -> str:
    """The release's relative path of a member: Video/{scenario}/DM/{id}.mp4, imgs/{scenario}/SD/{id}.jpg, ..."""
    top, scenario, variant, item_id = key
    return f"{RELEASE_TOP[top]}/{scenario}/{variant}/{item_id}.{RELEASE_EXT[top]}"


class Release:
    """Every official media member found in the given sources; the first source holding a path wins."""

    def __init__(self, option: str, sources: list[Source], members: dict[Key, Member]) -> None:
        self.option, self.sources, self.members = option, sources, members

    def where(self) -> str:
        return ", ".join(s.label for s in self.sources) or "no source"

    def member(self, key: Key, what: str) -> Member:
        """The member for `key`; ArchiveRejected naming the item (`what`) and the sources when it is absent."""
        found = self.members.get(key)
        if found is None and not self.members:
            top = key[0]
            expected = (
                f"{ARCHIVE_OF[top]} or an unzipped {top}/ folder" if top in ARCHIVE_OF else "MM-SafetyBench's imgs/"
            )
            raise ArchiveRejected(
                f"{self.option}: {self.where()} holds no official {RELEASE_EXT[top]} files for {what} "
                f"(expected {expected}); pass --tasks for the media you have"
            )
        if found is None:
            raise ArchiveRejected(
                f"{self.option}: {self.where()} has no {member_path(key)} ({what}); the release is incomplete "
                "or not the official one (download it again, or pass --scenarios/--limit/--tasks for a part of it)"
            )
        return found

    def provenance(self, member: Member) -> dict:
        source = self.sources[member.source]
        return {"origin": "official", "archive": source.label, "archive_sha256": source.sha256, "member": member.name}

    def copy(self, member: Member, top: str, dest: Path) -> None:
        """Copy the member's bytes to `dest` (capped at its declared size), then decode them with a real reader."""
        source = self.sources[member.source]
        where = f"{self.option}: {source.label} member {member.name}"
        limit = min(member.size, MAX_BYTES[top])
        try:
            if source.kind == "zip":
                with _open_zip(source.path).open(member.name) as src:
                    written = _copy_capped(src, dest, limit)
            else:
                with open(Path(source.path) / member.name, "rb") as src:
                    written = _copy_capped(src, dest, limit)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
            dest.unlink(missing_ok=True)
            raise ArchiveRejected(
                f"{where} cannot be read ({exc}); the archive is damaged: download it again"
            ) from None
        if written is None:
            dest.unlink(missing_ok=True)
            raise ArchiveRejected(f"{where} holds more than its declared {member.size} bytes; refused (a zip bomb?)")
        try:
            decode(dest, top)
        except ValueError as exc:
            dest.unlink(missing_ok=True)
            raise ArchiveRejected(f"{where} is not a decodable {RELEASE_EXT[top]} ({exc}); refused") from None


def _copy_capped(src, dest: Path, limit: int) -> int | None:
    """Copy at most `limit` bytes; None (and nothing more read) when the stream holds more."""
    written = 0
    with open(dest, "wb") as out:
        while block := src.read(min(1 << 20, limit + 1 - written)):
            written += len(block)
            if written > limit:
                return None
            out.write(block)
    return written


def decode(path: Path, top: str) -> None:
    """Decode a whole media file with a real reader; ValueError when it is not one."""
    if top == "Video":
        from .video_io import probe

        try:
            probe(path)
        except Exception as exc:  # av raises InvalidDataError, IndexError (no video stream), OSError
            raise ValueError(_reason(exc)) from None
    elif top == "Audio":
        import av

        try:
            with av.open(str(path)) as container:
                if not container.streams.audio:
                    raise ValueError("no audio stream")
                samples = sum(frame.samples for frame in container.decode(container.streams.audio[0]))
        except av.error.FFmpegError as exc:
            raise ValueError(_reason(exc)) from None
        if not samples:
            raise ValueError("no audio samples")
    else:
        from .image_io import decode_image

        img = decode_image(path)
        if img.width < 8 or img.height < 8:
            raise ValueError(f"implausible image size {img.width}x{img.height}")


def _reason(exc: Exception) -> str:
    """A decoder's complaint without the temporary path it names."""
    return re.sub(r": '[^']*'", "", str(exc))


# ---- finding the sources --------------------------------------------------------------------------
# One open handle per zip version and process: a forked worker must not share its parent's file offset.
_ZIPS: dict[tuple[int, str, int, int], zipfile.ZipFile] = {}


def _open_zip(path: str) -> zipfile.ZipFile:
    stat = os.stat(path)
    key = (os.getpid(), path, stat.st_size, stat.st_mtime_ns)
    if key not in _ZIPS:
        _ZIPS[key] = zipfile.ZipFile(path)
    return _ZIPS[key]


def open_release(
    option: str,
    source: MediaSource,
    tops: set[str],
    scenarios: set[str],
    state: Path,
    image_variants: tuple[str, ...] = ("SD", "TYPO", "SD_TYPO"),
) -> Release:
    """The release `option`'s value `source` names (hub, or hub:PATH: its `archive`), for the media `tops` (Video,
    Audio, Image) and, for the Hub's MM-SafetyBench parquet files, the MM `scenarios` and `image_variants` (the
    images the caller's tasks take from this source); `state` is the bench's folder for remembered hashes and
    unpacked parquet images. `option` only names the source in messages."""
    if source.kind != "hub":
        raise InputError(f"{option} {source}: not the official release (hub or hub:PATH)")
    if source.archive is None:
        paths = [_download(option, ARCHIVE_OF[t]) for t in ("Video", "Audio") if t in tops]
        sources = [_zip_source(option, p, state, f"{VA_REPO}:{p.name}") for p in paths]
        if "Image" in tops:
            sources += _hub_images(option, scenarios, state, image_variants)
    else:
        sources = _local_sources(option, str(source), source.archive, state)
    return index(option, sources, tops)


def index(option: str, sources: list[Source], tops: set[str]) -> Release:
    """Index every member of the given media; size and ratio caps are applied here, before any extraction."""
    members: dict[Key, Member] = {}
    for n, source in enumerate(sources):
        for name, size, compressed, stamp in _listing(option, source):
            match = _MEMBER.search(name)
            if not match or "__MACOSX" in name or _TOP_OF[match.group(1)] not in tops:
                continue
            top = _TOP_OF[match.group(1)]
            if match.group(5) != RELEASE_EXT[top]:
                continue
            if size > MAX_BYTES[top] or (size > _RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1)):
                raise ArchiveRejected(
                    f"{option}: {source.label} member {name} declares {size} bytes "
                    f"({compressed} compressed): over the limit for official {RELEASE_EXT[top]} files "
                    f"({MAX_BYTES[top] >> 20} MiB, ratio {MAX_RATIO}); refused (a zip bomb?)"
                )
            members.setdefault(key_of(top, *match.group(2, 3, 4)), Member(n, name, size, stamp))
    return Release(option, sources, members)


def _listing(option: str, source: Source):
    """(name, declared size, compressed size, stamp) of every file in a source."""
    if source.kind == "zip":
        try:
            infos = _open_zip(source.path).infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise ArchiveRejected(f"{option}: {source.path} is corrupt or not a zip archive ({exc})") from None
        return [(i.filename, i.file_size, i.compress_size, i.CRC) for i in infos if not i.is_dir()]
    root = Path(source.path)
    found = []
    for top in RELEASE_TOP.values():
        for path in sorted((root / top).glob("*/*/*")):
            if path.is_file():
                st = path.stat()
                found.append((path.relative_to(root).as_posix(), st.st_size, st.st_size, st.st_mtime_ns))
    return found


def _local_sources(option: str, spec: str, path: Path, state: Path) -> list[Source]:
    """A zip, or a folder holding zips, unzipped release folders and/or the Hub mirror's parquet files."""
    if path.is_file():
        return [_zip_source(option, path, state, path.name)]
    sources = [_zip_source(option, z, state, z.name) for z in sorted(path.glob("*.zip"))]
    for depth in ("", "*/", "*/*/"):
        for top in RELEASE_TOP.values():
            for folder in sorted(path.glob(f"{depth}{top}")):
                if folder.is_dir() and "__MACOSX" not in folder.parts:
                    sources.append(Source("folder", str(folder.parent), str(folder.parent), None))
    parquets = sorted(path.glob("data/*/*.parquet")) or sorted(path.glob("*/*.parquet"))
    if parquets:
        sources += _unpack_parquets(option, parquets, state)
    if not sources:
        raise InputError(
            f"{option} {spec}: {path} holds no official media (expected video.zip / audio.zip, "
            "an unzipped Video/ Audio/ imgs/ folder, or MM-SafetyBench's data/{scenario}/SD.parquet files)"
        )
    return list({s.path: s for s in sources}.values())


def _zip_source(option: str, path: Path, state: Path, label: str) -> Source:
    if not zipfile.is_zipfile(path):
        raise ArchiveRejected(f"{option}: {path} is corrupt or not a zip archive; download it again")
    return Source("zip", str(path.resolve()), label, remembered_sha256(path, state))


def remembered_sha256(path: Path, state: Path) -> str:
    """sha256 of a (large) file, computed once and remembered in `state` by path, size and mtime."""
    path = path.resolve()
    stat = path.stat()
    stamp = {"file": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    marker = state / f"{path.name}.{hashlib.sha256(str(path).encode()).hexdigest()[:12]}.json"
    recorded = _read_json(marker)
    if {k: recorded.get(k) for k in stamp} == stamp and recorded.get("sha256"):
        return recorded["sha256"]
    sha = file_sha256(path)
    _write_json(marker, {**stamp, "sha256": sha})
    return sha


def _download(option: str, filename: str) -> Path:
    """A VA-SafetyBench archive from the Hub (cached by huggingface_hub); offline -> the local way out."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(VA_REPO, filename, repo_type="dataset"))
    except Exception as exc:  # offline, DNS, HTTP errors: all mean "not reachable from here"
        raise InputError(
            f"{option} hub: cannot download {filename} from the Hugging Face dataset {VA_REPO} "
            f"({type(exc).__name__}); download it elsewhere and pass {option} hub:PATH (the file, or a folder "
            "holding it)"
        ) from None


def hub_config(scenario: str) -> str:
    """'01-Illegal_Activitiy' -> 'Illegal_Activitiy', the MM-SafetyBench mirror's folder name."""
    return scenario.split("-", 1)[1]


def _hub_images(option: str, scenarios: set[str], state: Path, splits: tuple[str, ...]) -> list[Source]:
    """MM-SafetyBench's images from the Hub mirror: each needed scenario's parquet file of each of `splits` (SD,
    TYPO, SD_TYPO), unpacked once."""
    from huggingface_hub import hf_hub_download

    parquets = []
    for scenario in sorted(scenarios):
        for split in splits:
            name = f"data/{hub_config(scenario)}/{split}.parquet"
            try:
                local = hf_hub_download(MMSB_REPO, name, repo_type="dataset", revision=MMSB_REVISION)
            except Exception as exc:  # offline, DNS, HTTP errors
                raise InputError(
                    f"{option} hub: cannot download {MMSB_REPO} {name} ({type(exc).__name__}); without network "
                    f"pass {option} hub:PATH (a local copy of the official images: imgs/ or the parquet files)"
                ) from None
            parquets.append((Path(local), scenario, split, f"{MMSB_REPO}:{name}"))
    return _unpack(option, parquets, state)


def _unpack_parquets(option: str, files: list[Path], state: Path) -> list[Source]:
    """Local copies of the mirror's parquet files (data/{config}/{split}.parquet) -> unpacked image folders."""
    from ..scenarios import MM_SCENARIOS

    by_config = {hub_config(s): s for s in MM_SCENARIOS}
    parquets = []
    for f in files:
        scenario = by_config.get(f.parent.name)
        if scenario and f.stem in ("SD", "TYPO", "SD_TYPO"):
            parquets.append((f, scenario, f.stem, f"{f.parent.name}/{f.name}"))
    return _unpack(option, parquets, state)


def _unpack(option: str, parquets: list[tuple[Path, str, str, str]], state: Path) -> list[Source]:
    """Write each parquet's images to state/parquet/{sha}/imgs/{scenario}/{split}/{id}.jpg (once per file
    content), each image's size capped; one folder source per parquet, labelled with its Hub path and sha256."""
    sources = []
    for path, scenario, split, label in parquets:
        sha = remembered_sha256(path, state)
        root = state / "parquet" / sha[:16]
        folder = root / "imgs" / scenario / split
        if not (root / "done.json").exists():
            _unpack_one(option, path, label, folder)
            _write_json(root / "done.json", {"parquet": label, "sha256": sha})
        sources.append(Source("folder", str(root), label, sha))
    return sources


def _unpack_one(option: str, path: Path, label: str, folder: Path) -> None:
    import pyarrow.parquet as pq

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        batches = list(pq.ParquetFile(path).iter_batches(batch_size=32, columns=["id", "image"]))
    except Exception as exc:  # pyarrow.ArrowInvalid, OSError, KeyError (no such column)
        raise ArchiveRejected(f"{option}: {label} is not a readable MM-SafetyBench parquet file ({exc})") from None
    for batch in batches:
        for row in batch.to_pylist():
            data = (row.get("image") or {}).get("bytes")
            if not data:
                continue
            if len(data) > MAX_BYTES["Image"]:
                raise ArchiveRejected(f"{option}: {label} row {row['id']} holds {len(data)} bytes: over the limit")
            atomic_write(folder / f"{row['id']}.jpg", data)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    write_json(path, RELEASE_STATE, data, indent=None)
