"""Read `summary.json` files (schema: ARCHITECTURE.md, "The command line") into typed runs.

Validation names the file and the field, so a broken run in a folder of hundreds is easy to find.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judges.aggregate import wilson_interval
from va_safetybench.errors import InputError

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


def _need(obj: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{where}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InputError(f"{where}: field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _counts(obj: dict, where: str) -> Counts:
    safe, unsafe, error = (_need(obj, k, int, where) for k in ("safe", "unsafe", "error"))
    if min(safe, unsafe, error) < 0:
        raise InputError(f"{where}: negative count")
    n = obj.get("n", safe + unsafe + error)
    if not isinstance(n, int) or n < safe + unsafe + error:
        raise InputError(f"{where}: 'n' is smaller than safe + unsafe + error")
    official = obj.get("official_unsafe")
    if official is not None and (not isinstance(official, int) or isinstance(official, bool) or not 0 <= official <= n):
        raise InputError(f"{where}: 'official_unsafe' must be a count between 0 and n")
    return Counts(n, safe, unsafe, error, official)


def _numbers(obj: Any, where: str) -> dict[str, float]:
    if not isinstance(obj, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in obj.values()
    ):
        raise InputError(f"{where}: expected an object of numbers")
    return {str(k): float(v) for k, v in obj.items()}


REFUSAL_JUDGES = ("keyword", "strmatch", "gpt")  # the over-refusal rates a summary carries per modality


def _refusal_rates(obj: Any, where: str) -> dict[str, dict[str, float]]:
    """{modality: {"keyword": r, "strmatch": r, "gpt": r, "n": .., ...}} -> {modality: {judge: rate}} (None left out);
    a plain number per modality (summaries written before the GPT classifier) is the keyword rate."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected an object")
    out: dict[str, dict[str, float]] = {}
    for modality, value in obj.items():
        rates = value if isinstance(value, dict) else {"keyword": value}
        picked = {j: rates[j] for j in REFUSAL_JUDGES if rates.get(j) is not None}
        out[str(modality)] = _numbers(picked, f"{where}.{modality}")
    return out


def parse_summary(data: Any, path: Path) -> Run:
    """A summary.json's parsed content -> Run; InputError names the file and the bad field."""
    where = str(path)
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    judge = _need(data, "judge", dict, where)
    bench = _need(data, "bench", dict, where)
    tasks = {}
    for task, body in _need(data, "tasks", dict, where).items():
        tw = f"{where}: tasks.{task}"
        scen = body.get("scenarios", {}) if isinstance(body, dict) else None
        if not isinstance(scen, dict):
            raise InputError(f"{tw}: 'scenarios' must be an object")
        media = (bench.get("media") or {}).get(task)
        tasks[task] = TaskResult(
            _counts(body, tw),
            {s: _counts(c, f"{tw}.scenarios.{s}") for s, c in scen.items()},
            str(media) if media else None,
        )
    groups = {}
    for group, body in (data.get("groups") or {}).items():
        if not isinstance(body, dict):
            raise InputError(f"{where}: groups.{group} must be an object")
        groups[group] = {k: body.get(k) for k in ("asr_macro", "asr_micro", "asr_official_macro")}
    capability = {}
    for task, metrics in (data.get("capability") or {}).items():
        capability[str(task)] = _numbers(metrics, f"{where}: capability.{task}")
    alignment = data.get("alignment")
    if alignment is not None and not isinstance(alignment, dict):
        raise InputError(f"{where}: 'alignment' must be an object")
    return Run(
        summary_path=path,
        model=_need(data, "model", str, where),
        backend=str(data.get("backend", "")),
        random_weights=bool(data.get("random_weights", False)),
        judge_name=str(_need(judge, "name", str, f"{where}: judge")),
        judge_version=str(_need(judge, "version", (str, int, float), f"{where}: judge")),
        judge_endpoint=endpoint if isinstance(endpoint := judge.get("endpoint"), str) and endpoint else None,
        bench_path=bench.get("path") if isinstance(bench.get("path"), str) else None,
        manifest_sha256=_need(bench, "manifest_sha256", str, f"{where}: bench"),
        created=str(data.get("created", "")),
        versions=versions if isinstance(versions := data.get("versions"), dict) else {},
        tasks=tasks,
        groups=groups,
        alignment=alignment,
        capability=capability,
        over_refusal=_refusal_rates(data.get("over_refusal") or {}, f"{where}: over_refusal"),
        task_manifests={str(k): str(v) for k, v in (bench.get("task_manifests") or {}).items()},
        judge_agreement=agreement if isinstance(agreement := data.get("judge_agreement"), dict) else None,
    )


def load_summary(path: Path) -> Run:
    """Read one summary.json, or the summary.json inside a run directory."""
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    return parse_summary(data, path)


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
