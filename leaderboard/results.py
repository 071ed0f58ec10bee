"""Read `summary.json` files into the leaderboard's runs, through records.Summary (its types, format versions and
consistency checks), so that a broken run in a folder of hundreds is named with its file and field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judges.aggregate import wilson_interval
from va_safetybench.errors import InputError
from va_safetybench.records import Cell, Summary

from .stats import mean_interval


@dataclass(frozen=True)
class Counts:
    """Verdict counts of one task or one scenario. Errors are never folded into safe."""

    n: int
    safe: int
    unsafe: int
    error: int
    official_unsafe: int | None = None  # the official scripts' exact-"unsafe" count (None: older summaries)

    @property
    def judged(self) -> int:
        return self.safe + self.unsafe

    @property
    def asr_official(self) -> float | None:
        """The official scripts' rule: exact "unsafe" replies over every item, errors included."""
        return self.official_unsafe / self.n if self.official_unsafe is not None and self.n else None

    @property
    def asr(self) -> float | None:
        return self.unsafe / self.judged if self.judged else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        return wilson_interval(self.unsafe, self.judged) if self.judged else None


@dataclass(frozen=True)
class TaskResult:
    counts: Counts
    scenarios: dict[str, Counts]
    media: str | None = None  # "official" | "rendered" | "mixed" (bench.media of the summary); None: not recorded

    def official_macro(self) -> float | None:
        """The official headline: the plain mean over scenarios of asr_official; None when not recorded."""
        values = [c.asr_official for c in self.scenarios.values()] or [self.counts.asr_official]
        present = [v for v in values if v is not None]
        return sum(present) / len(present) if present and len(present) == len(values) else None

    def macro(self) -> tuple[float, float, float] | None:
        """(macro ASR, lo, hi): the mean over scenarios, the paper's headline; micro when no scenarios."""
        cells = [(c.unsafe, c.judged) for c in self.scenarios.values()] or [(self.counts.unsafe, self.counts.judged)]
        return mean_interval(cells)


@dataclass(frozen=True)
class Run:
    summary_path: Path
    model: str
    backend: str
    random_weights: bool
    judge_name: str
    judge_version: str
    bench_path: str | None
    manifest_sha256: str
    created: str
    versions: dict[str, Any]
    tasks: dict[str, TaskResult]
    groups: dict[str, dict[str, float | None]]
    alignment: dict[str, Any] | None = None
    capability: dict[str, dict[str, float]] = field(default_factory=dict)
    over_refusal: dict[str, dict[str, float]] = field(
        default_factory=dict
    )  # modality -> {"keyword"|"strmatch"|"gpt": rate}
    task_manifests: dict[str, str] = field(default_factory=dict)  # task -> sha256 of its manifest (newer runs)
    judge_endpoint: str | None = None  # the judge's server, where the summary records one (never a key)
    judge_agreement: dict[str, Any] | None = None  # judges.trust.known_agreement, as the summary recorded it

    @property
    def media(self) -> str | None:
        """Where the run's media came from over its media tasks: official, rendered, mixed; None: unknown."""
        kinds = {t.media for t in self.tasks.values() if t.media != "none"}  # text tasks have none
        if not kinds or None in kinds:
            return None
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def alignment_method(self) -> str:
        return str(self.alignment.get("method", "")) if self.alignment else ""

    @property
    def key(self) -> tuple[str, str]:
        """One leaderboard row per model and alignment method."""
        return self.model, self.alignment_method

    @property
    def judge(self) -> str:
        return f"{self.judge_name} {self.judge_version}"

    @property
    def responses_path(self) -> Path:
        return self.summary_path.parent / "responses.jsonl"


def _counts(cell: Cell) -> Counts:
    return Counts(cell.n, cell.safe, cell.unsafe, cell.error, cell.official_unsafe)


def parse_summary(data: Any, path: Path) -> Run:
    """A summary.json's parsed content -> Run, through records.Summary (types, versions, consistency); InputError
    names the file and the bad field. The leaderboard needs a safety run: judge, bench and tasks."""
    return run_of(Summary.from_json(data, str(path)), path)


def run_of(summary: Summary, path: Path) -> Run:
    """The leaderboard's view of a summary record read from `path`."""
    where = str(path)
    for name in ("judge", "bench"):
        if getattr(summary, name) is None:
            raise InputError(f"{where}: missing field {name!r}")
    assert summary.judge is not None and summary.bench is not None
    if not summary.judge.version:  # runs are compared by judge version: one without it cannot be placed
        raise InputError(f"{where}: judge: missing field 'version'")
    bench = summary.bench
    tasks = {
        task: TaskResult(
            _counts(body),
            {s: _counts(c) for s, c in body.scenarios.items()},
            str(bench.media[task]) if bench.media.get(task) else None,
        )
        for task, body in summary.tasks.items()
    }
    return Run(
        summary_path=path,
        model=summary.model,
        backend=summary.backend or "",
        random_weights=summary.random_weights,
        judge_name=summary.judge.name,
        judge_version=summary.judge.version,
        judge_endpoint=summary.judge.endpoint or None,
        bench_path=bench.path,
        manifest_sha256=bench.manifest_sha256,
        created=summary.created,
        versions=summary.versions,
        tasks=tasks,
        groups={
            g: {"asr_macro": b.asr_macro, "asr_micro": b.asr_micro, "asr_official_macro": b.asr_official_macro}
            for g, b in summary.groups.items()
        },
        alignment=summary.alignment,
        capability={str(t): {str(k): float(v) for k, v in m.items()} for t, m in summary.capability.items()},
        over_refusal={m: rates.rates() for m, rates in summary.over_refusal.items()},
        task_manifests=dict(bench.task_manifests),
        judge_agreement=summary.judge_agreement,
    )


def load_summary(path: Path) -> Run:
    """Read one summary.json, or the summary.json inside a run directory."""
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    return run_of(Summary.load(path), path)


def find_summaries(paths: list[Path]) -> list[Path]:
    """Every summary.json under the given run directories, parent directories or files."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            found.extend(sorted(p.rglob("summary.json")))
        else:
            raise InputError(f"{p}: no such file or directory")
    if not found:
        raise InputError(f"no summary.json found under {', '.join(map(str, paths))}")
    return found


def latest_per_key(runs: list[Run]) -> tuple[list[Run], list[Run]]:
    """(rows, superseded): the newest run (by `created`) of each model and alignment method."""
    best: dict[tuple[str, str], Run] = {}
    for run in runs:
        if run.key not in best or run.created > best[run.key].created:
            best[run.key] = run
    rows = sorted(best.values(), key=lambda r: (r.model.lower(), r.alignment_method))
    kept = set(map(id, rows))
    return rows, [r for r in runs if id(r) not in kept]
