"""The `--dm` / `--sd` value: where generated media come from (none, the official hub files, a local
copy of the official archive, or a diffusers pipeline with options). One parser for both options so
that they accept and reject the same shapes with the same messages."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True)
class MediaSource:
    kind: str  # "none" | "hub" | "diffusers"
    archive: Path | None = None  # hub:PATH, a local copy of the official archive
    model: str | None = None  # diffusers:MODEL
    options: tuple[tuple[str, float], ...] = ()  # diffusers:MODEL,name=value,...

    def option(self, name: str, default=None):
        return dict(self.options).get(name, default)


def parse_media_source(
    option: str, spec: str, archive_what: str, diffusers_options: Mapping[str, Callable[[str], float]] | None = None
) -> MediaSource:
    """Validate `option`'s value `spec`; raises InputError naming the option and what was wrong.

    `archive_what` says what a hub:PATH archive should be; `diffusers_options` lists the name=value
    options a diffusers:MODEL spec may carry, with their parsers (none when omitted)."""
    if spec in ("none", "hub"):
        return MediaSource(spec)
    if spec.startswith("hub:") and spec[4:]:
        archive = Path(spec[4:]).expanduser()
        if not (archive.is_dir() or zipfile.is_zipfile(archive)):
            raise InputError(f"{option} {spec}: {archive} is not a zip archive or folder ({archive_what})")
        return MediaSource("hub", archive=archive)
    if spec.startswith("diffusers:") and spec[len("diffusers:") :]:
        model, *opts = spec[len("diffusers:") :].split(",")
        known = diffusers_options or {}
        options = []
        for opt in opts:
            name, _, value = opt.partition("=")
            if name not in known:
                raise InputError(f"{option} {spec}: unknown option {name!r}; known: {', '.join(known) or 'none'}")
            try:
                options.append((name, known[name](value)))
            except ValueError:
                raise InputError(f"{option} {spec}: {name} needs a number, not {value!r}") from None
        return MediaSource("diffusers", model=model, options=tuple(options))
    raise InputError(f"{option} {spec!r}: expected none, hub, hub:PATH/TO/ARCHIVE.zip or diffusers:MODEL")
