"""The official VA-SafetyBench DM videos: `video.zip` of the Hugging Face dataset luweikai/VA-SafetyBench.

The archive unpacks to `Video/{scenario}/{task}/{id}.mp4` (the layout the authors'
evaluate_video.py reads), possibly under one leading folder; we take only the `DM` videos.
The zip is checked once (every member's CRC), its sha256 recorded, and its DM videos unpacked
into `bench/.build/hub/`; a marker keyed on the zip's path, size and mtime lets later builds skip
all of that. Renderers then copy single files out of the unpacked folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

from ..errors import InputError
from ..materialize.hashing import file_sha256
from ..scenarios import VA_SCENARIOS

HUB_REPO = "luweikai/VA-SafetyBench"
HUB_FILE = "video.zip"
_DM_MEMBER = re.compile(r"(?:^|/)Video/([^/]+)/DM/([^/]+)\.mp4$")


def hub_dir(bench: Path) -> Path:
    return bench / ".build" / "hub"


def unpacked_path(bench: Path, scenario: str, item_id: str) -> Path:
    return hub_dir(bench) / "Video" / scenario / "DM" / f"{item_id}.mp4"


def download_zip() -> Path:
    """`video.zip` from the Hub (cached by huggingface_hub); offline -> InputError with the way out."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(HUB_REPO, HUB_FILE, repo_type="dataset"))
    except Exception as exc:  # offline, DNS, HTTP errors: all mean "not reachable from here"
        raise InputError(
            f"--dm hub: cannot download {HUB_FILE} from the Hugging Face dataset {HUB_REPO} "
            f"({type(exc).__name__}); download it elsewhere and pass --dm hub:PATH/TO/video.zip"
        ) from None


def unpack_dm(archive: Path, bench: Path, spec: str) -> str:
    """Verify `archive` and unpack its DM videos under bench/.build/hub; returns the zip's sha256."""
    out = hub_dir(bench)
    marker = out / "video.zip.json"
    stat = archive.stat()
    key = {"zip": str(archive.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if {k: recorded.get(k) for k in key} == key:
            return recorded["sha256"]
    try:
        with zipfile.ZipFile(archive) as zf:  # each member's CRC is checked as it is copied out
            members = [(m, _DM_MEMBER.search(m.filename)) for m in zf.infolist() if "__MACOSX" not in m.filename]
            members = [(m, match) for m, match in members if match and match.group(1) in VA_SCENARIOS]
            if not members:
                raise InputError(f"--dm {spec}: {archive} has no Video/{{scenario}}/DM/{{id}}.mp4 members")
            shutil.rmtree(out / "Video", ignore_errors=True)
            for member, match in members:
                dest = unpacked_path(bench, match.group(1), match.group(2))
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"--dm {spec}: {archive} is corrupt or not a zip archive ({exc}); download it again") from None
    sha = file_sha256(archive)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({**key, "sha256": sha, "dm_videos": len(members)}))
    os.replace(tmp, marker)
    return sha
