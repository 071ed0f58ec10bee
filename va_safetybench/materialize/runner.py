"""Incremental, parallel, atomic build of a benchmark directory.

Layout written under the bench root:
  Video|Audio|Image/{scenario}/{variant}/{id}.{ext}   media, the official layout
  manifests/{task}.jsonl                             one line per item (prompt, media, hash, status)
  bench.json                                         source, settings, counts per task
  .build/journal.jsonl, .build/tmp/                  bookkeeping (see journal.py)
  .build/lock                                        held by the one build writing the bench (locks.py)
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..fileio import FileFormat, is_disk_full, write_json
from ..items import Item
from ..locks import exclusive
from ..outdirs import writable_dir
from ..records import ManifestEntry
from ..taskspec import TASKS, TaskSpec
from .hashing import file_sha256, recipe_hash
from .journal import Journal
from .renderer import Renderer, task_renderer
from .settings import BuildSettings

MANIFEST_DIR = "manifests"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h

# bench.json: {source, settings (BuildSettings.to_json), updated, tasks: {task: {manifest}}}
BENCH_INFO = FileFormat("bench info", 1)


@dataclass
class BuildReport:
    rendered: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)  # "task item: error"
    unavailable: dict[str, str] = field(default_factory=dict)  # task -> reason
    notes: dict[str, str] = field(default_factory=dict)  # task -> what its renderer reports (official counts)
    seconds: float = 0.0


@dataclass(frozen=True)
class _Job:
    task: str
    item: Item
    rel: str
    recipe: str


def manifest_path(bench: Path, task: str) -> Path:
    return bench / MANIFEST_DIR / f"{task}.jsonl"


def _prepare_output(bench: Path) -> None:
    writable_dir(bench / ".build" / "tmp", "--out")
    # temp files of a killed build are never referenced by the journal: drop them
    for stale in (bench / ".build" / "tmp").iterdir():
        if stale.is_file():
            stale.unlink()


# ---- worker side -------------------------------------------------------------------------
# The parent's prepared renderers, pickled once per worker: what prepare() found (an archive's index,
# downloaded files, checked fonts) is not redone in every process.
_worker_renderers: dict[str, Renderer] = {}


def _worker_init(renderers: dict[str, Renderer], parent: int) -> None:
    _worker_renderers.update(renderers)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive its build: after a kill -9 of the parent, orphaned workers would go on
    rendering and writing into the bench beside the rerun. On Linux the kernel sends SIGKILL when the
    parent dies (prctl PR_SET_PDEATHSIG); elsewhere, or if the parent died before that took effect, a
    daemon thread notices the re-parenting within a second and exits."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent is already gone
        os._exit(1)
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _render_one(task: str, item: Item, rel: str, bench: Path, renderer: Renderer | None = None) -> tuple[str, str, int]:
    """Render to a temp file, hash it, rename it into place. Returns (rel, sha256, bytes)."""
    renderer = renderer or _worker_renderers[task]
    dest = bench / rel
    tmp = bench / ".build" / "tmp" / f"{task}.{item.scenario}.{item.id}.{os.getpid()}{Path(rel).suffix}"
    try:
        renderer.render(item, tmp, bench)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RuntimeError("renderer wrote no file")
        sha = file_sha256(tmp)
        size = tmp.stat().st_size
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):  # a failed render leaves no partial file taking space
            tmp.unlink(missing_ok=True)
        raise
    return rel, sha, size


# ---- parent side -------------------------------------------------------------------------
def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", file=sys.stderr, mininterval=0.5, disable=total == 0)


def build(
    items: list[Item], tasks: list[str], bench: Path, settings: BuildSettings, jobs: int, source: str = ""
) -> BuildReport:
    """Build `tasks` for `items` into `bench`; finished files survive any failure or kill."""
    start = time.perf_counter()
    writable_dir(bench, "--out")
    with exclusive(bench / ".build" / "lock", f"bench {bench}"):
        return _build_locked(items, tasks, bench, settings, jobs, source, start)


def _build_locked(
    items: list[Item], tasks: list[str], bench: Path, settings: BuildSettings, jobs: int, source: str, start: float
) -> BuildReport:
    """build() while this process alone writes the bench: the journal, temporary files and manifests are its own."""
    _prepare_output(bench)
    journal = Journal(bench / ".build" / "journal.jsonl")
    report = BuildReport()
    specs = [TASKS[t] for t in tasks]
    renderers: dict[str, Renderer] = {}
    for spec in specs:  # instantiate first: bad options (font, backend) fail before any work
        if spec.media:
            renderers[spec.name] = task_renderer(spec.name, settings)
    stages = {s.name: _stage(s, renderers.get(s.name)) for s in specs}
    for stage in sorted(set(stages.values())):
        stage_specs = [s for s in specs if stages[s.name] == stage]
        _build_stage(items, stage_specs, renderers, bench, jobs, journal, report)
    for spec in specs:
        _write_manifest(bench, spec, items, renderers.get(spec.name), journal, report)
    _write_bench_info(bench, source, settings, tasks)
    _remember_media(bench, specs, items, report)
    journal.compact()  # after a failure the journal stays as appended: a full disk could not take the rewrite
    report.seconds = time.perf_counter() - start
    return report


def _remember_media(bench: Path, specs: list[TaskSpec], items: list[Item], report: BuildReport) -> None:
    """Check the built media as eval will (harness.media_paths), so that eval finds them verified by
    their stat signature and starts without hashing the bench again."""
    from ..harness.docs import task_docs

    for spec in specs:
        if spec.media is not None and spec.name not in report.unavailable and _items_for(spec, items):
            task_docs(bench, spec.name)


def _stage(spec: TaskSpec, renderer: Renderer | None) -> int:
    """Builds run in stages: stage-1 media are made from stage-0 media unless the renderer says otherwise."""
    if spec.media is None or renderer is None:
        return 0
    return spec.media.stage if renderer.stage is None else renderer.stage


def media_relpath(spec: TaskSpec, renderer: Renderer, item: Item) -> str:
    """The item's media path in the bench: the task's layout, in the renderer's container."""
    assert spec.media is not None
    rel = spec.media.relpath(item.scenario, item.id)
    return rel if renderer.ext is None else f"{rel.rsplit('.', 1)[0]}.{renderer.ext}"


def _items_for(spec: TaskSpec, items: list[Item]) -> list[Item]:
    return [i for i in items if i.benchmark == spec.benchmark and spec.name in i.prompts]


def _build_stage(
    items: list[Item],
    specs: list[TaskSpec],
    renderers: dict[str, Renderer],
    bench: Path,
    jobs: int,
    journal: Journal,
    report: BuildReport,
) -> None:
    pending: list[_Job] = []
    for spec in specs:
        if spec.media is None:
            continue
        renderer = renderers[spec.name]
        reason = renderer.unavailable_reason()
        if reason:
            report.unavailable[spec.name] = reason
            continue
        task_items = _items_for(spec, items)
        renderer.prepare(bench, task_items)
        line = renderer.report_line()
        if line:
            report.notes[spec.name] = line
        for item in task_items:
            rel = media_relpath(spec, renderer, item)
            rhash = recipe_hash(spec.media.renderer, renderer.version, renderer.recipe(item, journal.sha256))
            if journal.is_current(bench, rel, rhash):
                report.skipped += 1
            else:
                pending.append(_Job(spec.name, item, rel, rhash))
    if not pending:
        return
    serial = [j for j in pending if not renderers[j.task].parallel or jobs <= 1]
    parallel = [j for j in pending if j not in serial] if len(serial) < len(pending) else []
    with _progress(len(pending), "build") as bar:
        for job in serial:
            _finish(
                job,
                lambda j=job: _render_one(j.task, j.item, j.rel, bench, renderers[j.task]),
                journal,
                report,
                bar,
            )
        if parallel:
            shipped = {t: renderers[t] for t in {j.task for j in parallel}}
            _run_parallel(parallel, bench, shipped, jobs, journal, report, bar)


def _finish(job: _Job, call, journal: Journal, report: BuildReport, bar) -> None:
    try:
        rel, sha, size = call()
    except Exception as exc:  # one bad item must not stop the build; bad input or a full disk stops it
        if isinstance(exc, InputError) or is_disk_full(exc):
            raise
        report.failed.append(f"{job.task} {job.item.scenario}/{job.item.id}: {type(exc).__name__}: {exc}")
    else:
        journal.record(rel, job.recipe, sha, size)
        report.rendered += 1
    bar.update(1)


def _run_parallel(
    jobs_list: list[_Job],
    bench: Path,
    renderers: dict[str, Renderer],
    jobs: int,
    journal: Journal,
    report: BuildReport,
    bar,
) -> None:
    """Render in worker processes. Bad input (InputError: e.g. an official member that does not decode) or a full
    disk stops new work; what is in flight is finished and journaled, then the first such error is raised."""
    fatal: Exception | None = None
    with ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init, initargs=(renderers, os.getpid())) as pool:
        queue = iter(jobs_list)
        running = {}
        for job in queue:  # keep at most 4 jobs per worker in flight so a kill loses little
            running[pool.submit(_render_one, job.task, job.item, job.rel, bench)] = job
            if len(running) >= jobs * 4:
                break
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                job = running.pop(fut)
                try:
                    _finish(job, fut.result, journal, report, bar)
                except (InputError, OSError) as exc:  # _finish lets only these through, a full disk among them
                    fatal = fatal or exc
                nxt = None if fatal else next(queue, None)
                if nxt is not None:
                    running[pool.submit(_render_one, nxt.task, nxt.item, nxt.rel, bench)] = nxt
    if fatal:
        raise fatal


def _write_manifest(
    bench: Path, spec: TaskSpec, items: list[Item], renderer: Renderer | None, journal: Journal, report: BuildReport
) -> None:
    lines = []
    for item in _items_for(spec, items):
        entry = {
            "task": spec.name,
            "benchmark": item.benchmark,
            "scenario": item.scenario,
            "id": item.id,
            "question": item.question,
            "key_phrase": item.key_phrase,
            "phrase_type": item.phrase_type,
            "prompt": item.prompts[spec.name],
            "modality": spec.modality,
            "media": None,
            "sha256": None,
            "status": "ok",
        }
        if spec.media is not None and renderer is not None:
            rel = media_relpath(spec, renderer, item)
            entry["media"] = rel
            if spec.name in report.unavailable:
                entry.update(renderer.describe())
            else:
                entry.update(renderer.provenance(item))
            if spec.name in report.unavailable:
                entry["status"] = "unavailable"
                entry["reason"] = report.unavailable[spec.name]
            elif journal.sha256(rel) is None or not (bench / rel).exists():
                entry["status"] = "failed"
            else:
                entry["sha256"] = journal.sha256(rel)
        lines.append(ManifestEntry.from_json(entry, f"{spec.name} {item.scenario}/{item.id}"))
    ManifestEntry.save_lines(manifest_path(bench, spec.name), lines)


def _write_bench_info(bench: Path, source: str, settings: BuildSettings, tasks: list[str]) -> None:
    info_path = bench / "bench.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {"tasks": {}}
    info.update(
        {
            "source": source,
            "settings": settings.to_json(),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    for task in tasks:
        info["tasks"][task] = {"manifest": str(manifest_path(bench, task).relative_to(bench))}
    write_json(info_path, BENCH_INFO, info, sort_keys=True)
