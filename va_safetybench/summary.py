"""Writing the `summary.json` of one run (records.Summary; ARCHITECTURE.md), for `va-bench eval` and `va-bench judge`.

Counts, ASR, intervals and group scores come from judges.aggregate; this module adds what
identifies the run (model, judge, benchmark manifests, package versions) and writes the file
atomically so that a reader never sees half a summary.
"""

from __future__ import annotations

import hashlib
import platform
import time
from pathlib import Path
from typing import Any

from .records import BenchFingerprint, ManifestEntry, Summary, unversioned

SUMMARY_NAME = "summary.json"
_VERSIONED_PACKAGES = ("va-safetybench", "lm-eval", "torch", "transformers", "vllm", "openai")


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def bench_fingerprint(bench: Path, tasks: list[str]) -> BenchFingerprint:
    """One sha256 over the evaluated tasks' manifests, in task-name order, plus each task's own, so that runs over
    different task sets of the same bench can still be recognised as comparable task by task; and per task where
    its media came from. Digests are blind to the manifests' format_version (records.unversioned)."""
    digest = hashlib.sha256()
    per_task, media = {}, {}
    for task in sorted(tasks):
        path = bench / "manifests" / f"{task}.jsonl"
        data = unversioned(path.read_bytes())
        digest.update(task.encode() + b"\0")
        digest.update(data)
        digest.update(b"\0")
        per_task[task] = hashlib.sha256(data).hexdigest()
        media[task] = media_origin(ManifestEntry.load_lines(path))
    return BenchFingerprint(path=str(bench), manifest_sha256=digest.hexdigest(), task_manifests=per_task, media=media)


def media_origin(entries: list[ManifestEntry]) -> str:
    """'official' (every file from the official release), 'rendered', 'mixed', or 'none' (a text task), from
    the manifest lines' provenance; lines of benches built before provenance was recorded count as rendered."""
    origins = {"official" if e.extra.get("origin") == "official" else "rendered" for e in entries if e.media}
    return "none" if not origins else origins.pop() if len(origins) == 1 else "mixed"


# written by capability runs, kept when the safety part is redone; `scorers` says which rule scored each task
CARRIED_SECTIONS = ("capability", "over_refusal", "scorers")


def read_summary(run_dir: Path, name: str = SUMMARY_NAME) -> Summary | None:
    """RUN_DIR/summary.json as a record, or None when there is none yet."""
    path = run_dir / name
    return Summary.load(path) if path.is_file() else None


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_summary(
    run_dir: Path,
    records: list,
    identity: Summary,
    name: str = SUMMARY_NAME,
    refreshed: dict[str, dict] | None = None,
) -> Summary:
    """Aggregate `records` (judges.aggregate.Record) into `identity` (a Summary holding what identifies the run:
    model, backend, judge, bench, generation, alignment; no counts) and write RUN_DIR/`name`; returns it.

    The one writer of safety summaries: `va-bench eval` writes summary.json, `va-bench judge`
    summary-{judge}.json with the identifying fields of summary.json passed back in. The
    capability / over_refusal sections of RUN_DIR/summary.json are carried over when it describes
    the same model, so re-running or re-judging the safety tasks does not drop them; `refreshed`
    ({section: {entry: fields}}) updates carried entries field by field, e.g. the GPT refusal rates
    of a re-judged run over its keyword rates.
    """
    from judges.aggregate import group_scores, summarize_tasks
    from judges.trust import known_agreement

    from .taskspec import GROUPS

    tasks = summarize_tasks(records)
    data = identity.to_json()
    if identity.judge is not None:  # how far to trust the ASRs below
        data["judge_agreement"] = known_agreement(identity.judge.name, identity.judge.version)
    data.update(
        created=identity.created or now(),
        versions=identity.versions or package_versions(),
        errors=sum(t["error"] for t in tasks.values()),
        tasks=tasks,
        groups=group_scores(tasks, GROUPS),
    )
    previous = read_summary(run_dir)
    if previous is not None and previous.model == identity.model:
        carried = previous.to_json()
        data.update({k: carried[k] for k in CARRIED_SECTIONS if carried.get(k)})
    for section, entries in (refreshed or {}).items():
        for entry, fields in entries.items():
            data.setdefault(section, {}).setdefault(entry, {}).update(fields)
    return _write(run_dir / name, data)


def add_sections(run_dir: Path, sections: dict[str, dict], identity: Summary) -> Summary:
    """Merge capability / over_refusal sections ({task or modality: ...}) into RUN_DIR/summary.json.

    Entries of earlier runs of the same model in the same directory are kept unless re-measured; a
    run with no safety tasks, or of another model, starts the summary from `identity` (model,
    backend, random_weights).
    """
    previous = read_summary(run_dir)
    if previous is not None and previous.model == identity.model:
        data = previous.to_json()
    else:
        data = {**identity.to_json(), "created": now(), "versions": package_versions()}
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return _write(run_dir / SUMMARY_NAME, data)


def _write(path: Path, data: dict[str, Any]) -> Summary:
    """Checked as a record, then written atomically: a reader never sees half a summary, nor one it cannot read."""
    summary = Summary.from_json(data, str(path))
    summary.save(path)
    return summary
