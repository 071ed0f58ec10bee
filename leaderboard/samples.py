"""Per-model, per-task sample files for the sample browser, loaded on demand.

Each file is a classic script that hands its data to `vaSamplesLoaded(key, data)`: a <script src>
inserted by the page works from file:// too, where fetch() of a local file is refused by Chromium.
One file per task keeps each load small (at most one task's responses) and the index untouched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from va_safetybench.errors import InputError

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


def _parse_lines(path: Path, lines: list[tuple[int, str]]) -> list[dict]:
    """All (lineno, line) in one json.loads call (much faster than one per line); on failure, find the bad line."""
    try:
        recs = json.loads("[" + ",".join(line for _, line in lines) + "]")
    except json.JSONDecodeError:
        for lineno, line in lines:
            try:
                json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        raise InputError(f"{path}: not valid JSON lines") from None
    for (lineno, _), rec in zip(lines, recs):
        if not isinstance(rec, dict) or not isinstance(rec.get("task"), str):
            raise InputError(f"{path}:{lineno}: expected an object with a 'task' field")
    return recs


def read_responses(run: Run) -> dict[str, list[dict]]:
    """responses.jsonl -> {task: [record, ...]} in file order; {} when the run has none."""
    path = run.responses_path
    if not path.is_file():
        return {}
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    by_task: dict[str, list[dict]] = {}
    for rec in _parse_lines(path, lines):
        by_task.setdefault(rec["task"], []).append(rec)
    return by_task


def _compact(rec: dict) -> dict:
    """The fields the browser shows, under short keys (the files hold up to ~1,000 samples each)."""
    verdict = rec.get("verdict") or {}
    if not isinstance(verdict, dict):
        verdict = {}
    error = rec.get("error")
    out: dict[str, str | list[str]] = {
        "i": str(rec.get("id", "")),
        "s": str(rec.get("scenario", "")),
        "p": str(rec.get("prompt") or ""),
        "r": str(rec.get("response") or ""),
        "l": str(verdict.get("label") or ("error" if error else "")),
        "j": str(verdict.get("raw") or ""),
    }
    if error:
        out["e"] = str(error)
    cats = verdict.get("categories")
    if cats:
        out["c"] = [str(c) for c in cats] if isinstance(cats, list) else [str(cats)]
    media = rec.get("media")
    if isinstance(media, str) and media:
        out["m"] = media
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
