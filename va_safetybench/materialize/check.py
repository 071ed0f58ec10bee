"""`va-bench build --check`: every manifest entry exists, decodes, and matches its hash."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..fileio import jsonl_lines
from ..media.source_spec import parse_media
from ..records import ManifestEntry, RecordError
from ..taskspec import TASKS
from .hashing import file_sha256
from .renderer import Renderer, task_renderer
from .runner import MANIFEST_DIR
from .settings import BuildSettings


def check_bench(bench: Path) -> tuple[int, list[str]]:
    """Returns (entries checked, problems); each problem names the task, item and file.

    Media paths resolve through harness.media_paths, the resolver eval uses: a path outside the bench
    is a problem even when the manifest's sha256 matches the outside file."""
    from ..harness.media_paths import ManifestLine, ParentCache, resolve_media

    bench = bench.resolve()
    parents = ParentCache()
    manifests = sorted((bench / MANIFEST_DIR).glob("*.jsonl"))
    if not manifests:
        raise InputError(f"{bench}: no manifests/ here; run `va-bench build --out {bench}` first")
    checked, problems = 0, []
    for manifest in manifests:
        task = manifest.stem
        spec = TASKS.get(task)
        if spec is None:
            problems.append(f"{manifest}: unknown task {task!r}")
            continue
        verifiers: dict[str, Renderer] = {}
        try:
            lines = jsonl_lines(manifest)  # a line that is not a JSON object is named; the rest of this file skipped
        except InputError as exc:
            problems.append(str(exc))
            continue
        for line in lines:
            try:
                entry = ManifestEntry.from_json(line.value, line.where)
            except RecordError as exc:
                problems.append(str(exc))
                continue
            checked += 1
            where = f"{task} {entry.scenario}/{entry.id}"
            if spec.media is None or entry.status == "unavailable":
                continue
            if entry.status != "ok":
                problems.append(f"{where}: status {entry.status!r} (rebuild it)")
                continue
            try:
                path, found = resolve_media(bench, ManifestLine(manifest, line.number, entry), parents)
            except InputError as exc:
                problems.append(str(exc))
                continue
            if found is None:
                problems.append(f"{where}: {entry.media} is missing")
                continue
            if file_sha256(path) != entry.sha256:
                problems.append(f"{where}: {entry.media} does not match its recorded sha256")
                continue
            origin = "official" if entry.extra.get("origin") == "official" else "rendered"
            if origin not in verifiers:  # an official file is checked by the official copier's decoder
                settings = BuildSettings(media=parse_media("hub")) if origin == "official" else BuildSettings()
                verifiers[origin] = task_renderer(task, settings)
            try:
                verifiers[origin].verify(path)
            except Exception as exc:  # any decoder failure is a finding, not a crash
                problems.append(f"{where}: {entry.media} does not decode ({exc})")
    return checked, problems
