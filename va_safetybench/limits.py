"""The limits on media a run will read, in one place; each is changed with an environment variable.

They keep a hostile or broken file from costing hours or gigabytes: a clip's duration and an image's size are
checked from the file's header when a task loads (harness/media_paths: exit 2 before any model loads); a video's
frame count and frame size while it is decoded (models/media_loading: an error for that item only). The limits
on network replies (request deadline, reply size) are options of the backend and the judge instead
(`timeout=`, `max_reply_bytes=`), since they belong to an endpoint rather than to the media.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class Limit:
    variable: str  # the environment variable that changes it
    default: float
    what: str  # what it bounds, for error messages and the README

    def value(self) -> float:
        """The limit in force: the variable's value when set, else the default; InputError naming a bad value."""
        raw = os.environ.get(self.variable, "").strip()
        if not raw:
            return self.default
        try:
            number = float(raw)
        except ValueError:
            number = float("nan")
        if not number > 0 or number == float("inf"):
            raise InputError(f"${self.variable}={raw!r}: expected a positive number ({self.what})")
        return number


MEDIA_SECONDS = Limit("VA_BENCH_MAX_MEDIA_SECONDS", 300.0, "seconds an audio or video file may last")
IMAGE_PIXELS = Limit("VA_BENCH_MAX_IMAGE_PIXELS", 40_000_000, "pixels of an image")
VIDEO_FRAMES = Limit("VA_BENCH_MAX_VIDEO_FRAMES", 18_000, "frames decoded from one video (300 s at 60 fps)")
FRAME_PIXELS = Limit("VA_BENCH_MAX_FRAME_PIXELS", 3840 * 2160, "pixels of one video frame (4K UHD)")
ALL = (MEDIA_SECONDS, IMAGE_PIXELS, VIDEO_FRAMES, FRAME_PIXELS)


def check_environment() -> None:
    """Refuse a bad limit variable when a task loads, before any model does (an InputError naming it)."""
    for limit in ALL:
        limit.value()
