"""A task's media taken from the official release byte for byte (`--media hub[:PATH]`, `--dm hub[:ZIP]`,
`--sd hub[:ZIP]`), at the release's relative path and container (Audio/.../{id}.mp3: no re-encoding).

The release is opened once per medium and build (release.py checks it), every item's member must be
there before anything is copied, and each copy is decoded before it is renamed into the bench. All
official tasks are stage 0: DM+TYPO and SD+TYPO are official files too, not made from DM or SD.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..items import Item
from ..materialize.renderer import RecordedHash, Renderer
from ..materialize.settings import BuildSettings
from ..taskspec import TASKS
from .release import RELEASE_EXT, Member, Release, decode, key_of, open_release

FULL_SIZE = {"va": 972, "mmsb": 1680}  # items per task in the complete releases
_RELEASES: dict[tuple, Release] = {}  # (option, source, top, state, scenarios) -> the opened release, per process


class OfficialFileRenderer(Renderer):
    version = "1"
    stage = 0

    def __init__(self, settings: BuildSettings, task: str = "") -> None:
        super().__init__(settings, task=task)
        spec = TASKS[task]
        source = settings.official_source(task)
        if spec.media is None or source is None:
            raise InputError(f"{task}: no official media source configured")
        self.task, self.benchmark = task, spec.benchmark
        self.top, self.variant = spec.media.top, spec.media.variant
        self.ext = RELEASE_EXT[self.top]
        self.option, self.source = source  # parsed by the command line, a hub:PATH checked there
        # the image variants every task drawing on this same source takes (--sd hub: SD only; --media hub: all)
        self.variants = tuple(
            s.media.variant
            for t, s in TASKS.items()
            if s.media is not None and s.media.top == self.top and settings.official_source(t) == source
        )
        self.release: Release | None = None
        self.found, self.used = 0, list[str]()

    def prepare(self, bench: Path, items: list[Item]) -> None:
        state = bench / ".build" / "hub"
        scenarios = frozenset(i.scenario for i in items) if self.top == "Image" else frozenset()
        key = (self.option, self.source, self.top, str(state), scenarios)
        if key not in _RELEASES:
            _RELEASES[key] = open_release(self.option, self.source, {self.top}, set(scenarios), state, self.variants)
        self.release = _RELEASES[key]
        members = [self._member(item) for item in items]  # every member present before anything is copied
        self.found = len(members)
        self.used = sorted({self.release.sources[m.source].label for m in members})

    def _member(self, item: Item) -> Member:
        assert self.release is not None, "prepare() first"
        what = f"item {item.scenario}/{item.id} of {self.task}"
        return self.release.member(key_of(self.top, item.scenario, self.variant, item.id), what)

    def recipe(self, item: Item, recorded: RecordedHash) -> dict:
        member = self._member(item)
        return {"member": member.name, "bytes": member.size, "stamp": member.stamp}

    def render(self, item: Item, dest: Path, bench: Path) -> None:
        assert self.release is not None
        self.release.copy(self._member(item), self.top, dest)

    def verify(self, path: Path) -> None:
        decode(path, self.top)

    def provenance(self, item: Item) -> dict:
        assert self.release is not None
        return self.release.provenance(self._member(item))

    def describe(self) -> dict:
        return {"origin": "official", "source": f"{self.option} {self.source}"}

    def report_line(self) -> str | None:
        if not self.found:
            return None
        full = FULL_SIZE[self.benchmark]
        extent = "complete" if self.found == full else f"a part of the {full}"
        return f"{self.found} official {self.ext} files from {', '.join(self.used)} ({extent})"
