"""The `summary.json` of one run (schema in ARCHITECTURE.md), shared by `va-bench eval` and `va-bench judge`.

Counts, ASR, intervals and group scores come from judges.aggregate; this module adds what
identifies the run (model, judge, benchmark manifests, package versions) and writes the file
atomically so that a reader never sees half a summary.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any

from .fileio import atomic_write_json

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


def bench_fingerprint(bench: Path, tasks: list[str]) -> dict:
    """{path, manifest_sha256, task_manifests, media}: one sha256 over the evaluated tasks' manifests, in
    task-name order, plus each task's own, so that runs over different task sets of the same bench
    can still be recognised as comparable task by task; and per task where its media came from."""
    digest = hashlib.sha256()
    per_task, media = {}, {}
    for task in sorted(tasks):
        data = (bench / "manifests" / f"{task}.jsonl").read_bytes()
        digest.update(task.encode() + b"\0")
        digest.update(data)
        digest.update(b"\0")
        per_task[task] = hashlib.sha256(data).hexdigest()
        media[task] = media_origin(data)
    return {"path": str(bench), "manifest_sha256": digest.hexdigest(), "task_manifests": per_task, "media": media}


def media_origin(manifest: bytes) -> str:
    """'official' (every file from the official release), 'rendered', 'mixed', or 'none' (a text task), from
    the manifest lines' provenance; lines of benches built before provenance was recorded count as rendered."""
    origins = set()
    for line in manifest.decode("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("media"):
            origins.add("official" if entry.get("origin") == "official" else "rendered")
    return "none" if not origins else origins.pop() if len(origins) == 1 else "mixed"


# written by capability runs, kept when the safety part is redone; `scorers` says which rule scored each task
CARRIED_SECTIONS = ("capability", "over_refusal", "scorers")


def read_summary(run_dir: Path) -> dict[str, Any]:
    """RUN_DIR/summary.json, or {} when there is none yet."""
    path = run_dir / SUMMARY_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_summary(
    run_dir: Path,
    records: list,
    *,
    model: str,
    backend: str | None,
    random_weights: bool,
    judge: dict[str, str],
    bench: dict[str, str] | None,
    alignment: dict | None = None,
    generation: dict | None = None,
    created: str | None = None,
    versions: dict[str, str] | None = None,
    name: str = SUMMARY_NAME,
    extra: dict[str, Any] | None = None,
    refreshed: dict[str, dict] | None = None,
) -> dict[str, Any]:
    """Aggregate `records` (judges.aggregate.Record) and write RUN_DIR/`name`; returns the summary.

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
    summary: dict[str, Any] = {
        "model": model,
        "backend": backend,
        "random_weights": bool(random_weights),
        "judge": {k: judge[k] for k in ("name", "version", "endpoint") if k in judge},  # endpoint: a server's URL
        "judge_agreement": known_agreement(judge["name"], judge["version"]),  # how far to trust the ASRs below
        "bench": bench,
        "created": created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions or package_versions(),
        **(extra or {}),
        "errors": sum(t["error"] for t in tasks.values()),
        "tasks": tasks,
        "groups": group_scores(tasks, GROUPS),
    }
    if bench is None:  # a re-judged run without summary.json: what it was evaluated on is unknown
        del summary["bench"]
    if generation:
        summary["generation"] = generation
    if alignment:
        summary["alignment"] = alignment
    previous = read_summary(run_dir)
    if previous.get("model") == model:
        summary.update({k: previous[k] for k in CARRIED_SECTIONS if previous.get(k)})
    for section, entries in (refreshed or {}).items():
        for entry, fields in entries.items():
            summary.setdefault(section, {}).setdefault(entry, {}).update(fields)
    _write(run_dir / name, summary)
    return summary


def add_sections(run_dir: Path, sections: dict[str, dict], identity: dict[str, Any]) -> dict[str, Any]:
    """Merge capability / over_refusal sections ({task or modality: ...}) into RUN_DIR/summary.json.

    Entries of earlier runs of the same model in the same directory are kept unless re-measured; a
    run with no safety tasks, or of another model, starts the summary from `identity` (model,
    backend, random_weights).
    """
    summary = read_summary(run_dir)
    if not summary or summary.get("model") != identity.get("model", summary.get("model")):
        summary = {
            **identity,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": package_versions(),
        }
    for section, values in sections.items():
        summary.setdefault(section, {}).update(values)
    _write(run_dir / SUMMARY_NAME, summary)
    return summary


def _write(path: Path, summary: dict[str, Any]) -> None:
    """Atomically: a reader never sees half a summary."""
    atomic_write_json(path, summary)
