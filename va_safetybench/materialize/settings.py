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
