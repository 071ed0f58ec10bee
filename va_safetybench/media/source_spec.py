"""The `--media`, `--dm` and `--sd` values: where a build's media come from (none: rendered here, or not built; the
official release from the hub, or a local copy of it; a diffusers pipeline with options), parsed once by the
command line into a `MediaSource`. One parser for the three options, so that they accept and reject the same shapes
with the same messages; each option only says what its archive is and which diffusers options it takes.

A source keeps the text it was parsed from: that text, not the parsed parts, goes into rendered files' recipe hashes,
manifest lines and bench.json, so a bench built before the value was typed is up to date after
(tests/test_build_settings.py)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InputError

# the name=value options a `--dm diffusers:MODEL,...` takes, with their parsers (the DM generator reads them)
DM_DIFFUSERS_OPTIONS: dict[str, Callable[[str], float]] = {
    "frames": int,
    "steps": int,
    "height": int,
    "width": int,
    "guidance": float,
}


@dataclass(frozen=True)
class MediaSource:
    text: str  # the value as given ("hub:~/release", "diffusers:org/model,steps=4"); str() of the source
    kind: Literal["none", "hub", "diffusers"]
    archive: Path | None = None  # hub:PATH, a local copy of the official release (a zip or a folder)
    model: str | None = None  # diffusers:MODEL
    options: tuple[tuple[str, float], ...] = ()  # diffusers:MODEL,name=value,...

    def __str__(self) -> str:
        return self.text

    def option(self, name: str, default=None):
        return dict(self.options).get(name, default)


NO_MEDIA = MediaSource("none", "none")


def parse_media(text: str) -> MediaSource:
    """`--media`: none, or every media task's files from the official release (hub, hub:PATH)."""
    return parse_media_source("--media", text, "the official release", diffusers_options=None)


def parse_dm(text: str) -> MediaSource:
    """`--dm`: the DM videos (none, hub, hub:PATH, diffusers:MODEL[,frames=N,steps=N,height=N,width=N,guidance=X])."""
    return parse_media_source("--dm", text, "the dataset's video.zip", DM_DIFFUSERS_OPTIONS)


def parse_sd(text: str) -> MediaSource:
    """`--sd`: the SD images (none, hub, hub:PATH, diffusers:MODEL)."""
    return parse_media_source("--sd", text, "the official imgs/ folder", {})


def parse_media_source(
    option: str, spec: str, archive_what: str, diffusers_options: Mapping[str, Callable[[str], float]] | None
) -> MediaSource:
    """Validate `option`'s value `spec`; raises InputError naming the option and what was wrong.

    `archive_what` says what a hub:PATH archive should be; `diffusers_options` lists the name=value options a
    diffusers:MODEL spec may carry, with their parsers (None: the option takes no diffusers pipeline)."""
    if spec in ("none", "hub"):
        return MediaSource(spec, "none" if spec == "none" else "hub")
    if spec.startswith("hub:") and spec[4:]:
        archive = Path(spec[4:]).expanduser()
        if not (archive.is_dir() or zipfile.is_zipfile(archive)):
            missing = "" if archive.exists() else ", and it does not exist"
            raise InputError(f"{option} {spec}: {archive} is not a zip archive or folder ({archive_what}{missing})")
        return MediaSource(spec, "hub", archive=archive)
    if diffusers_options is not None and spec.startswith("diffusers:") and spec[len("diffusers:") :]:
        model, *opts = spec[len("diffusers:") :].split(",")
        options = []
        for opt in opts:
            name, _, value = opt.partition("=")
            if name not in diffusers_options:
                known = ", ".join(diffusers_options) or "none"
                raise InputError(f"{option} {spec}: unknown option {name!r}; known: {known}")
            try:
                options.append((name, diffusers_options[name](value)))
            except ValueError:
                raise InputError(f"{option} {spec}: {name} needs a number, not {value!r}") from None
        return MediaSource(spec, "diffusers", model=model, options=tuple(options))
    shapes = "none, hub, hub:PATH (a zip or a folder)" + (
        " or diffusers:MODEL" if diffusers_options is not None else ""
    )
    raise InputError(f"{option} {spec!r}: expected {shapes}")
