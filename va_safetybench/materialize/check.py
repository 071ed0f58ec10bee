"""`va-bench build --check`: every manifest entry exists, decodes, and matches its hash."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
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
        for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{manifest}:{n}: not JSON")
                continue
            if not isinstance(entry, dict):
                problems.append(f"{manifest}:{n}: not a JSON object")
                continue
            checked += 1
            where = f"{task} {entry.get('scenario')}/{entry.get('id')}"
            if spec.media is None or entry.get("status") == "unavailable":
                continue
            if entry.get("status") != "ok":
                problems.append(f"{where}: status {entry.get('status')!r} (rebuild it)")
                continue
            try:
                path, found = resolve_media(bench, ManifestLine(manifest, n, entry), parents)
            except InputError as exc:
                problems.append(str(exc))
                continue
            if found is None:
                problems.append(f"{where}: {entry['media']} is missing")
                continue
            if file_sha256(path) != entry.get("sha256"):
                problems.append(f"{where}: {entry['media']} does not match its recorded sha256")
                continue
            origin = "official" if entry.get("origin") == "official" else "rendered"
            if origin not in verifiers:  # an official file is checked by the official copier's decoder
                settings = BuildSettings(media="hub") if origin == "official" else BuildSettings()
                verifiers[origin] = task_renderer(task, settings)
            try:
                verifiers[origin].verify(path)
            except Exception as exc:  # any decoder failure is a finding, not a crash
                problems.append(f"{where}: {entry['media']} does not decode ({exc})")
    return checked, problems
