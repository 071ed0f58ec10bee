"""A line of BENCH/manifests/{task}.jsonl: one item of a built task, its prompt, its medium and where it came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from .base import FORMAT_FIELD, Record, field

Status = Literal["ok", "failed", "unavailable"]


@dataclass(frozen=True, kw_only=True)
class ManifestEntry(Record):
    """One item of one task as `va-bench build` made it. Provenance (`origin`: official with archive,
    archive_sha256 and member, or rendered with the generator and its settings) is kept in `extra`, as written."""

    FORMAT: ClassVar[str] = "manifest-entry"
    VERSION: ClassVar[int] = 2  # 1: the same fields without format_version
    EXTRA: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = (
        "A line of BENCH/manifests/{task}.jsonl; provenance keys (origin, archive, archive_sha256, member, or "
        "generator and its settings) sit beside these fields."
    )

    # in the order `va-bench build` writes them (the manifest digest of a rebuilt bench depends on it)
    task: str | None = field(default=None, help="the task this line belongs to")
    benchmark: str = field(help="va (VA-SafetyBench) or mmsb (MM-SafetyBench)")
    scenario: str = field(help="the scenario folder name, e.g. 1-IllegalActivitiy")
    id: str = field(help="the item's id within its scenario")
    question: str | None = field(default=None, help="the harmful question in text form")
    key_phrase: str | None = field(default=None)
    phrase_type: str | None = field(default=None)
    prompt: str | None = field(default=None, help="the task's text prompt, exactly as the official field holds it")
    modality: str | None = field(default=None, help="text, image, video or audio")
    media: str | None = field(default=None, help="the medium's path relative to the bench folder; null for text")
    sha256: str | None = field(default=None, help="sha256 of the medium as built; null when there is none")
    status: Status = field(help="ok; failed (its medium could not be made); unavailable (the task was not built)")
    extra: dict[str, Any] = field(factory=dict)
    reason: str | None = field(default=None, omit_none=True, help="why an unavailable task was not built")

    @classmethod
    def _prepare(cls, data: Any, where: str) -> Any:
        data = super()._prepare(data, where)
        if isinstance(data, dict) and isinstance(data.get("id"), int) and not isinstance(data["id"], bool):
            data = {**data, "id": str(data["id"])}  # hand-made manifests number their items
        return data

    @property
    def key(self) -> str:
        """benchmark/scenario/id: the item's name across tasks (the response cache and lm-eval docs use it)."""
        return f"{self.benchmark}/{self.scenario}/{self.id}"

    def line(self) -> str:
        """The JSONL line `va-bench build` writes for this entry (without its newline)."""
        return json.dumps(self.to_json(), ensure_ascii=False)


def unversioned(manifest: bytes) -> bytes:
    """A manifest's bytes as a build before format versions wrote them: each line that carries format_version
    re-serialised without it (the writer's serialisation), every other line as it is. Digests are taken over this,
    so a bench rebuilt by this version has the digests an older build of the same items had (summaries record
    them; regress compares runs on them)."""
    out = []
    for raw in manifest.splitlines(keepends=True):
        try:
            entry = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            entry = None
        if isinstance(entry, dict) and FORMAT_FIELD in entry:
            entry.pop(FORMAT_FIELD)
            raw = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        out.append(raw)
    return b"".join(out)


def manifest_digest(manifest: bytes) -> str:
    """sha256 of a manifest's content, blind to format_version (see `unversioned`)."""
    return hashlib.sha256(unversioned(manifest)).hexdigest()
