"""VA-SafetyBench DM videos (task va_video_dm) and DM+TYPO videos (va_video_dm_typo).

DM sources (`--dm`):
  none                 not built; DM and DM+TYPO are reported unavailable.
  hub                  the official videos, copied byte for byte from `video.zip` of the Hugging
                       Face dataset luweikai/VA-SafetyBench (see dm_hub).
  hub:/path/video.zip  the same from a local copy of that archive.
  diffusers:MODEL[,frames=N][,steps=N][,height=H][,width=W][,guidance=G]
                       generate with a diffusers text-to-video pipeline (`DiffusionPipeline`, a Hub
                       id or a local directory), loaded once (when the first video is due, so an
                       up-to-date rebuild never loads it), run in the parent process one video at
                       a time, seeded per item (build seed + a hash of the item key). The paper
                       used Pyramid Flow for 5 s at 640x384 and 24 fps, so the defaults are
                       frames=121 (5 s + 1 at 24 fps), height=384, width=640; steps and guidance
                       default to the pipeline's own. Output frames are letterboxed to 640x384
                       and written at 24 fps. The prompt comes from scene_prompt (a template, or
                       an LLM with --scene-llm).

DM+TYPO is stage 1: the item's built DM video (re-timed to 24 fps and letterboxed to 640x384
if it is not already), then the whole key phrase in one white-on-black frame (text_frames,
the same drawing as TYPO) held for HOLD_SECONDS = 3 s.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np

from ..items import Item
from ..materialize.hashing import text_digest
from ..materialize.renderer import RecordedHash, Renderer
from ..materialize.settings import BuildSettings
from ..taskspec import TASKS
from . import dm_hub
from .fonts import resolve_font
from .scene_prompt import scene_prompts
from .source_spec import MediaSource, parse_media_source
from .text_frames import MARGIN, PHRASE_FONT_SIZE, phrase_frame, require_glyphs
from .video_io import FPS, HEIGHT, WIDTH, conform, letterbox, probe, probe_standard, read_frames, write_video

HOW_TO_BUILD = "pass --dm hub (the official videos) or --dm diffusers:MODEL (generate them)"
HOLD_SECONDS = 3
_DIFFUSERS_OPTIONS = {"frames": int, "steps": int, "height": int, "width": int, "guidance": float}


def parse_dm(spec: str) -> MediaSource:
    """Validate `--dm`; raises InputError naming the option."""
    return parse_media_source("--dm", spec, "the dataset's video.zip", _DIFFUSERS_OPTIONS)


def item_seed(build_seed: int, item_key: str) -> int:
    return build_seed + int.from_bytes(hashlib.sha256(f"dm:{item_key}".encode()).digest()[:4], "little")


class DMVideoRenderer(Renderer):
    version = "1"
    parallel = False  # hub: file copies; diffusers: one GPU pipeline in the parent

    def __init__(self, settings: BuildSettings, **args: object) -> None:
        super().__init__(settings, **args)
        self.source = parse_dm(settings.dm)
        self._zip_sha: str | None = None
        self._pipe = None
        self._prompts: dict[str, str] = {}

    def unavailable_reason(self) -> str | None:
        return f"--dm none: DM videos are not built; {HOW_TO_BUILD}" if self.source.kind == "none" else None

    def prepare(self, bench: Path, items: list[Item]) -> None:
        if self.source.kind == "hub":
            archive = self.source.archive or dm_hub.download_zip()
            self._zip_sha = dm_hub.unpack_dm(archive, bench, self.settings.dm)
        elif self.source.kind == "diffusers":
            self._prompts = scene_prompts([i.key_phrase for i in items], self.settings.scene_llm, bench)

    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        if self.source.kind == "hub":
            return {"source": "hub", "zip_sha256": self._zip_sha, "member": f"Video/{item.scenario}/DM/{item.id}.mp4"}
        return {
            "source": "diffusers",
            "model": self.source.model,
            "options": sorted(self.source.options),
            "prompt": text_digest(self._prompts[item.key_phrase]),
            "scene_llm": self.settings.scene_llm,
            "seed": item_seed(self.settings.seed, item.key),
            "size": [WIDTH, HEIGHT],
            "fps": FPS,
        }

    def render(self, item: Item, dest: Path, bench: Path) -> None:
        if self.source.kind == "hub":
            src = dm_hub.unpacked_path(bench, item.scenario, item.id)
            if not src.exists():
                raise FileNotFoundError(f"video.zip has no Video/{item.scenario}/DM/{item.id}.mp4")
            shutil.copyfile(src, dest)
        else:
            write_video(self._generate(item), dest)

    def _generate(self, item: Item) -> list[np.ndarray]:
        import torch

        if self._pipe is None:  # loaded on the first video to make: an up-to-date rebuild never loads it
            self._pipe = _load_pipeline(self.source.model, self.settings.device)
        opt = self.source.option
        kwargs = {
            "num_frames": opt("frames", 121),
            "height": opt("height", HEIGHT),
            "width": opt("width", WIDTH),
            "generator": torch.Generator(device="cpu").manual_seed(item_seed(self.settings.seed, item.key)),
            "output_type": "np",
        }
        if opt("steps") is not None:
            kwargs["num_inference_steps"] = opt("steps")
        if opt("guidance") is not None:
            kwargs["guidance_scale"] = opt("guidance")
        frames = self._pipe(self._prompts[item.key_phrase], **kwargs).frames[0]
        return [letterbox(_to_uint8(f)) for f in frames]

    def verify(self, path: Path) -> None:
        probe(path)  # official videos keep their own size and rate: decoding all frames is the check

    def describe(self) -> dict:
        return {**super().describe(), "dm": self.settings.dm, "scene_llm": self.settings.scene_llm}


class DMTypoVideoRenderer(Renderer):
    """Stage 1: the built DM video of the same bench, then the whole key phrase for 3 s."""

    version = "1"

    def __init__(self, settings: BuildSettings, **args: object) -> None:
        super().__init__(settings, **args)
        self.source = parse_dm(settings.dm)
        self.font_path = resolve_font(settings.font)
        phrase_frame("A", self.font_path)  # an unreadable font fails now, before any work
        self.dm_media = TASKS["va_video_dm"].media

    def unavailable_reason(self) -> str | None:
        return f"--dm none: DM+TYPO needs the DM videos; {HOW_TO_BUILD}" if self.source.kind == "none" else None

    def prepare(self, bench: Path, items: list[Item]) -> None:
        require_glyphs(items, self.font_path)

    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        return {
            "dm_sha256": recorded(self.dm_media.relpath(item.scenario, item.id)),
            "text": text_digest(item.key_phrase),
            "font": self.font_path.name,
            "font_size": PHRASE_FONT_SIZE,
            "margin": MARGIN,
            "hold_seconds": HOLD_SECONDS,
            "size": [WIDTH, HEIGHT],
            "fps": FPS,
        }

    def render(self, item: Item, dest: Path, bench: Path) -> None:
        dm = bench / self.dm_media.relpath(item.scenario, item.id)
        if not dm.exists():
            raise FileNotFoundError(f"no DM video at {dm.relative_to(bench)}; build va_video_dm first")
        frames, fps = read_frames(dm)
        tail = phrase_frame(item.key_phrase, self.font_path)
        write_video([*conform(frames, fps), *([tail] * (HOLD_SECONDS * FPS))], dest)

    def verify(self, path: Path) -> None:
        info = probe_standard(path)
        if info.frames <= HOLD_SECONDS * FPS:
            raise ValueError(f"{info.frames} frames: too short for a DM video plus the {HOLD_SECONDS} s phrase")

    def describe(self) -> dict:
        return {**super().describe(), "dm": self.settings.dm, "font": self.font_path.name, "hold_seconds": HOLD_SECONDS}


def _to_uint8(frame) -> np.ndarray:
    """A pipeline frame (PIL image, or float array in [0, 1], or uint8 array) as H x W x 3 uint8."""
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        arr = (np.clip(arr, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr[..., :3])


def _load_pipeline(model: str, device: str | None):
    from .diffusion import load_pipeline

    return load_pipeline("--dm", model, device, "DiffusionPipeline", "a text-to-video pipeline")
