"""Build options that decide what the media look like (so they go into recipe hashes)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..media.source_spec import NO_MEDIA, MediaSource


@dataclass(frozen=True)
class BuildSettings:
    tts: str = "espeak"  # "espeak" (offline) | "edge" (the paper's, needs network)
    voice: str | None = None  # TTS voice; None = the backend's default
    dm: MediaSource = NO_MEDIA  # --dm: none | hub | hub:PATH | diffusers:MODEL (media/source_spec.py)
    sd: MediaSource = NO_MEDIA  # --sd: none | hub | hub:PATH | diffusers:MODEL
    font: str | None = None  # TTF path; None = Liberation Sans (metric-compatible with Arial)
    seed: int = 0
    scene_llm: str | None = None  # OpenAI-compatible model that writes DM scene prompts; None = template
    device: str | None = None  # torch device for diffusers backends
    media: MediaSource = NO_MEDIA  # --media: hub | hub:PATH, every media task's file from the official release

    def official_source(self, task: str) -> tuple[str, MediaSource] | None:
        """(option, source) when `task`'s media are the official release's files, else None (rendered)."""
        if self.media.kind != "none":
            return ("--media", self.media)
        if task == "va_video_dm" and self.dm.kind == "hub":
            return ("--dm", self.dm)
        if task == "mmsb_sd" and self.sd.kind == "hub":
            return ("--sd", self.sd)
        return None

    def to_json(self) -> dict[str, Any]:
        """The settings as bench.json records them: each media source as the text it was given."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, MediaSource) else value
