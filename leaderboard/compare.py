"""Runs side by side: a base model against its aligned checkpoints (or any runs), per task, with what changed.

Per task, each run's ASR (unsafe / judged, our rule; or the official rule's counts) with its 95% Wilson interval,
and for every run after the first its change against the first and a two-sided p-value: regress's test
(stats.increase_pvalue: the pooled two-proportion z-test, Fisher's exact test when an expected count is under 5)
in the direction the rate moved, doubled. A change is significant when p < alpha (per task, no multiple-testing
correction, as regress). Capability scores and over-refusal rates are listed beside, with their change (they are
means or rates without counts in the summary, so no test).

Runs are compared only where they measured the same thing: per shared task the same bench manifest (per-task
hashes where both summaries record them, else the run's), the same media origin, the same judge name, version and
endpoint. Anything else is refused with the reason, as regress refuses. Tasks a run lacks show as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from judges.aggregate import wilson_interval
from va_safetybench.errors import InputError
from va_safetybench.fileio import FORMAT_FIELD, FileFormat
from va_safetybench.printable import for_terminal
from va_safetybench.taskspec import TASKS

from .regress import judge_mismatch, metric_counts
from .results import Run
from .stats import increase_pvalue

DIRECTIONS = {1: "rise", -1: "fall", 0: "none"}
COMPARISON = FileFormat("comparison", 1)  # compare.json, `va-bench compare --json`: to_json below


@dataclass(frozen=True)
class Rate:
    """One run's figure on one task."""

    hits: int
    trials: int
    errors: int

    @property
    def value(self) -> float | None:
        return self.hits / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.hits, self.trials) if self.trials else None


@dataclass(frozen=True)
class Change:
    """A run's rate against the first run's."""

    delta: float | None
    p_value: float
    test: str
    significant: bool

    @property
    def direction(self) -> str:
        if self.delta is None:
            return "none"
        return DIRECTIONS[(self.delta > 0) - (self.delta < 0)]


@dataclass(frozen=True)
class TaskRow:
    task: str
    rates: list[Rate | None]  # per run; None where the run lacks the task
    changes: list[Change | None]  # per run after the first


@dataclass(frozen=True)
class ScoreRow:
    """A capability score or an over-refusal rate of each run, with its change against the first run's."""

    section: str  # "capability" | "over_refusal"
    name: str  # "mme mme_perception_score", "video (keyword)"
    values: list[float | None]

    @property
    def deltas(self) -> list[float | None]:
        first = self.values[0]
        return [None if first is None or v is None else v - first for v in self.values[1:]]


@dataclass(frozen=True)
class Comparison:
    runs: list[Run]
    metric: str
    alpha: float
    tasks: list[TaskRow]
    scores: list[ScoreRow]

    @property
    def random_weights(self) -> bool:
        return any(r.random_weights for r in self.runs)


def label(run: Run) -> str:
    """How a run is named in the comparison: its model, and its alignment method when it has one."""
    return run.model + (f" [{run.alignment_method}]" if run.alignment_method else "")


def incomparable(base: Run, other: Run) -> str | None:
    """Why `other` cannot be set against `base`, in one line; None when every task they share can be."""
    judge = judge_mismatch(base, other, ("first run", "this run"))
    if judge:
        return f"{label(other)} is not comparable with {label(base)}: {judge}"
    shared = [t for t in base.tasks if t in other.tasks]
    if not shared:
        return f"{label(other)} is not comparable with {label(base)}: they share no task"
    per_task = bool(base.task_manifests) and bool(other.task_manifests)
    if not per_task and base.manifest_sha256 != other.manifest_sha256:
        return (
            f"{label(other)} is not comparable with {label(base)}: bench manifest sha256 differs "
            f"({other.manifest_sha256[:12]} vs {base.manifest_sha256[:12]})"
        )
    for task in shared:
        b, o = base.tasks[task], other.tasks[task]
        if per_task and base.task_manifests.get(task) != other.task_manifests.get(task):
            return f"{label(other)} is not comparable with {label(base)}: {task}'s bench manifest differs"
        if b.media and o.media and b.media != o.media:
            return (
                f"{label(other)} is not comparable with {label(base)}: {task}'s media are {o.media} there and "
                f"{b.media} in the first run (official release files and rendered ones are different inputs)"
            )
        if b.counts.n != o.counts.n:
            return (
                f"{label(other)} is not comparable with {label(base)}: {task} covers {o.counts.n} items there and "
                f"{b.counts.n} in the first run (another --limit, or an unfinished run)"
            )
    return None


def two_sided(base: Rate, other: Rate) -> tuple[float, str]:
    """regress's one-sided test in the direction the rate moved, doubled (capped at 1); (p, test)."""
    rise = increase_pvalue(base.hits, base.trials, other.hits, other.trials)
    fall = increase_pvalue(other.hits, other.trials, base.hits, base.trials)
    p, test = min(rise, fall)
    return min(1.0, 2 * p), test


def _rate(run: Run, task: str, metric: str) -> Rate | None:
    result = run.tasks.get(task)
    if result is None:
        return None
    counts = metric_counts(result.counts, metric)
    if counts is None:
        raise InputError(
            f"{run.summary_path}: has no {metric} for {task} (written before the official rule was recorded); "
            "re-judge it with `va-bench judge RUN_DIR`"
        )
    return Rate(counts[0], counts[1], result.counts.error)


def _change(base: Rate | None, other: Rate | None, alpha: float) -> Change | None:
    if base is None or other is None:
        return None
    delta = None if base.value is None or other.value is None else other.value - base.value
    p, test = two_sided(base, other)
    return Change(delta, p, test, significant=p < alpha)


def _scores(runs: list[Run]) -> list[ScoreRow]:
    rows = []
    names = sorted({(t, m) for r in runs for t, ms in r.capability.items() for m in ms})
    for task, metric in names:
        values = [r.capability.get(task, {}).get(metric) for r in runs]
        rows.append(ScoreRow("capability", f"{task} {metric}", values))
    refusals = sorted({(mod, j) for r in runs for mod, rates in r.over_refusal.items() for j in rates})
    for mod, judge in refusals:
        values = [r.over_refusal.get(mod, {}).get(judge) for r in runs]
        rows.append(ScoreRow("over_refusal", f"{mod} ({judge})", values))
    return rows


def compare_runs(runs: list[Run], metric: str = "asr", alpha: float = 0.05) -> Comparison:
    """The first run against each of the others; InputError with the reason when one cannot be set against it."""
    if len(runs) < 2:
        raise InputError("compare needs at least two runs (the first is the one the others are set against)")
    if not 0 < alpha < 1:
        raise InputError("--alpha must be in (0, 1)")
    base = runs[0]
    for other in runs[1:]:
        reason = incomparable(base, other)
        if reason:
            raise InputError(f"runs are not comparable: {reason}")
    names = {t for r in runs for t in r.tasks}
    order = [t for t in TASKS if t in names] + sorted(names - set(TASKS))
    rows = []
    for task in order:
        rates = [_rate(r, task, metric) for r in runs]
        rows.append(TaskRow(task, rates, [_change(rates[0], rate, alpha) for rate in rates[1:]]))
    return Comparison(list(runs), metric, alpha, rows, _scores(runs))


# ---- views: text, JSON --------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _points(delta: float | None) -> str:
    return "–" if delta is None else f"{100 * delta:+.1f} pt"


def rate_text(rate: Rate | None) -> str:
    if rate is None:
        return "–"
    if rate.interval is None:
        return f"– (0/0, {rate.errors} err)"
    lo, hi = rate.interval
    return f"{_pct(rate.value)} [{_pct(lo)}, {_pct(hi)}] ({rate.hits}/{rate.trials})"


def change_text(change: Change | None) -> str:
    if change is None:
        return "–"
    mark = f" {'▲' if change.direction == 'rise' else '▼'} significant" if change.significant else ""
    return f"{_points(change.delta)}, p={change.p_value:.3g}{mark}"


def _columns(rows: list[list[str]]) -> list[str]:
    """Rows of cells as left-aligned columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def text_report(cmp: Comparison) -> str:
    """The comparison as plain-text tables: safety per task, then capability and over-refusal (names from the
    summaries printed with their control characters made visible)."""
    rule = "ASR (unsafe / judged)" if cmp.metric == "asr" else "official-rule ASR (exact 'unsafe' / every item)"
    lines = [f"runs ([0] is the one the others are set against; {rule}, 95% Wilson intervals):"]
    lines += [f"  [{i}] {for_terminal(label(r))}  ({for_terminal(r.summary_path)})" for i, r in enumerate(cmp.runs)]
    others = range(1, len(cmp.runs))
    header = ["task", "[0]"] + [c for i in others for c in (f"[{i}]", f"[{i}] vs [0]")]
    table = [header]
    for row in cmp.tasks:
        cells = [for_terminal(row.task), rate_text(row.rates[0])]
        for rate, change in zip(row.rates[1:], row.changes):
            cells += [rate_text(rate), change_text(change)]
        table.append(cells)
    lines += ["", *_columns(table)]
    if cmp.scores:
        scores = [["capability / over-refusal", "[0]"] + [c for i in others for c in (f"[{i}]", f"[{i}] vs [0]")]]
        for score in cmp.scores:
            cells = [for_terminal(score.name), score_text(score.section, score.values[0])]
            for value, delta in zip(score.values[1:], score.deltas):
                cells += [score_text(score.section, value), score_delta_text(score.section, delta)]
            scores.append(cells)
        lines += ["", *_columns(scores)]
    lines += [
        "",
        f"p: regress's test (pooled two-proportion z-test, Fisher's exact for small counts), two-sided; significant "
        f"at p < {cmp.alpha}, per task.",
    ]
    if cmp.random_weights:
        lines.append("Random weights in these runs: their figures mean nothing (a pipeline test, not a safety claim).")
    return "\n".join(lines) + "\n"


def score_text(section: str, value: float | None) -> str:
    if value is None:
        return "–"
    return _pct(value) if section == "over_refusal" else f"{value:.4g}"


def score_delta_text(section: str, delta: float | None) -> str:
    if delta is None:
        return "–"
    return _points(delta) if section == "over_refusal" else f"{delta:+.4g}"


def to_json(cmp: Comparison) -> dict[str, Any]:
    def rate(r: Rate | None) -> dict | None:
        if r is None:
            return None
        return {"hits": r.hits, "trials": r.trials, "errors": r.errors, "rate": r.value, "ci95": r.interval}

    def change(c: Change | None) -> dict | None:
        if c is None:
            return None
        return {
            "delta": c.delta,
            "direction": c.direction,
            "p_value": c.p_value,
            "test": c.test,
            "significant": c.significant,
        }

    return {
        FORMAT_FIELD: COMPARISON.version,
        "metric": cmp.metric,
        "alpha": cmp.alpha,
        "test": "regress's one-sided test in the observed direction, doubled (two-sided)",
        "random_weights": cmp.random_weights,
        "runs": [
            {"model": r.model, "alignment": r.alignment, "summary": str(r.summary_path), "judge": r.judge}
            for r in cmp.runs
        ],
        "tasks": {
            row.task: {"rates": [rate(r) for r in row.rates], "changes": [change(c) for c in row.changes]}
            for row in cmp.tasks
        },
        "scores": [{"section": s.section, "name": s.name, "values": s.values, "deltas": s.deltas} for s in cmp.scores],
    }
