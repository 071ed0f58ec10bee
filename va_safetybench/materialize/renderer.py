"""The contract between the build runner and the media generators in `va_safetybench.media`."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from ..items import Item
from .settings import BuildSettings

# Given a path relative to the bench root, the sha256 recorded when it was built (or None).
RecordedHash = Callable[[str], "str | None"]


class Renderer(ABC):
    """Makes one task's media file for one item.

    The runner calls `recipe` in the parent to decide whether a file is up to date, then
    `render` (in a worker process when `parallel`) to write it to a temporary path with the
    final extension; the runner hashes it and renames it into place. Constructors validate
    settings and raise `InputError` so bad options fail before anything is rendered.
    """

    version: str = "1"
    parallel: bool = True  # False: rendered in the parent, one at a time (GPU pipelines)
    stage: int | None = None  # None: the task's own (MediaSpec.stage)
    ext: str | None = None  # None: the task's own (MediaSpec.ext); official audio is mp3

    def __init__(self, settings: BuildSettings, **args: object) -> None:
        self.settings = settings
        self.args = args

    def unavailable_reason(self) -> str | None:
        """Why this task cannot be built with these settings (e.g. `--dm none`), else None."""
        return None

    def prepare(self, bench: Path, items: list[Item]) -> None:
        """One-off work in the parent before rendering (downloads, model loading)."""

    @abstractmethod
    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        """Everything that determines the output file, JSON-serialisable; it is hashed."""

    @abstractmethod
    def render(self, item: Item, dest: Path, bench: Path) -> None:
        """Write the media file for `item` to `dest`."""

    @abstractmethod
    def verify(self, path: Path) -> None:
        """Decode `path` with a real reader; raise ValueError if it is not a valid file."""

    def describe(self) -> dict:
        """Generator name and settings recorded in the manifest."""
        return {"generator": type(self).__name__, "version": self.version}

    def provenance(self, item: Item) -> dict:
        """Where one item's file came from, for its manifest line: rendered here, by this generator."""
        return {"origin": "rendered", **self.describe()}

    def report_line(self) -> str | None:
        """One line for the build's printout after prepare() (official copies: how many, from where)."""
        return None


OFFICIAL_RENDERER = "va_safetybench.media.official_copy:OfficialFileRenderer"


def task_renderer(task: str, settings: BuildSettings) -> Renderer:
    """The renderer of a media task: a copier of the official release's file when the settings take the
    task's media from there (`BuildSettings.official_source`), else the task's own generator."""
    from ..taskspec import TASKS

    media = TASKS[task].media
    assert media is not None, f"{task} has no media"
    if settings.official_source(task):
        return load_renderer(OFFICIAL_RENDERER, settings, {"task": task})
    return load_renderer(media.renderer, settings, media.renderer_args)


def load_renderer(path: str, settings: BuildSettings, args: dict) -> Renderer:
    module_name, class_name = path.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(settings, **args)
