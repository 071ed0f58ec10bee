"""Build options that decide what the media look like (so they go into recipe hashes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildSettings:
    tts: str = "espeak"  # "espeak" (offline) | "edge" (the paper's, needs network)
    voice: str | None = None  # TTS voice; None = the backend's default
    dm: str = "none"  # "hub" | "diffusers:MODEL" | "none"
    sd: str = "none"  # "hub" | "diffusers:MODEL" | "none"
    font: str | None = None  # TTF path; None = Liberation Sans (metric-compatible with Arial)
    seed: int = 0
    scene_llm: str | None = None  # OpenAI-compatible model that writes DM scene prompts; None = template
    device: str | None = None  # torch device for diffusers backends
    media: str = "none"  # "hub" | "hub:PATH": every media task's file from the official release; "none": render

    def official_source(self, task: str) -> tuple[str, str] | None:
        """(option, value) when `task`'s media are the official release's files, else None (rendered)."""
        if self.media != "none":
            return ("--media", self.media)
        if task == "va_video_dm" and self.dm.startswith("hub"):
            return ("--dm", self.dm)
        if task == "mmsb_sd" and self.sd.startswith("hub"):
            return ("--sd", self.sd)
        return None
