"""Per-model, per-task sample files for the sample browser, loaded on demand.

Each file is a classic script that hands its data to `vaSamplesLoaded(key, data)`: a <script src>
inserted by the page works from file:// too, where fetch() of a local file is refused by Chromium.
One file per task keeps each load small (at most one task's responses) and the index untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

from va_safetybench.records import ResponseRow

from .html import script_json
from .results import Run


def _bench_dir(run: Run) -> Path | None:
    """The bench directory a run's media paths are relative to: a relative bench path is taken from
    the run directory, or from the current directory when only that one exists."""
    if not run.bench_path:
        return None
    bench = Path(run.bench_path)
    if bench.is_absolute():
        return bench
    beside = (run.summary_path.parent / bench).resolve()
    return bench.resolve() if not beside.exists() and bench.exists() else beside


def read_responses(run: Run) -> dict[str, list[ResponseRow]]:
    """responses.jsonl -> {task: [row, ...]} in file order (records.ResponseRow); {} when the run has none."""
    path = run.responses_path
    if not path.is_file():
        return {}
    by_task: dict[str, list[ResponseRow]] = {}
    for row in ResponseRow.load_lines(path):
        by_task.setdefault(row.task, []).append(row)
    return by_task


def _compact(row: ResponseRow) -> dict:
    """The fields the browser shows, under short keys (the files hold up to ~1,000 samples each)."""
    verdict = row.verdict
    out: dict[str, str | list[str]] = {
        "i": row.id,
        "s": row.scenario,
        "p": row.prompt or "",
        "r": row.response or "",
        "l": (verdict.label if verdict else "") or ("error" if row.error else ""),
        "j": (verdict.raw if verdict else "") or "",
    }
    if row.error:
        out["e"] = row.error
    if verdict and verdict.categories:
        out["c"] = list(verdict.categories)
    if row.media:
        out["m"] = row.media[0]  # relative to the bench: the page links it through media_base
    return out


def write_samples(run: Run, slug: str, site: Path, served_from: Path | None = None) -> dict[str, tuple[str, int]]:
    """Write samples/{slug}-{n}.js per task into `site`; returns {task: (path relative to the model page, count)}.

    `media_base` is the bench directory relative to the model pages (None when unknown): the page
    joins it with each sample's media path to link the file. `served_from` is the folder the site will
    be opened from when it is written elsewhere first (site_dir's staging folder); default `site`.
    """
    by_task = read_responses(run)
    if not by_task:
        return {}
    bench = _bench_dir(run)
    prefix = Path(os.path.relpath(bench, (served_from or site) / "models")).as_posix() if bench else None
    (site / "samples").mkdir(exist_ok=True)
    index = {}
    for n, (task, recs) in enumerate(sorted(by_task.items())):
        key = f"{slug}-{n}"
        data = {"media_base": prefix, "items": [_compact(r) for r in recs]}
        (site / "samples" / f"{key}.js").write_text(
            f"vaSamplesLoaded({script_json(key)},{script_json(data)});\n", encoding="ascii"
        )
        index[task] = (f"../samples/{key}.js", len(recs))
    return index
