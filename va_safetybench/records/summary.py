"""RUN_DIR/summary.json (and summary-{judge}.json): one run's identity, its counts and ASR per task, scenario and
group, and the capability and over-refusal sections. The counts come from judges.aggregate; what they mean is
in its docstring. `Summary.load` is the one reader every consumer (leaderboard, regress, printers) goes through,
and the parts' `check` the one place where a summary's figures are checked: counts in range and adding up (a task's
over its scenarios, the run's errors over its tasks), and every stored rate the one its counts give, so that a
hand-edited or hostile summary is refused with its file and field named instead of being shown or compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .base import Part, Record, RecordError, field
from .responses import JudgeIdentity

REFUSAL_JUDGES = ("keyword", "strmatch", "gpt")  # the over-refusal rates a summary carries per modality


MAX_COUNT = 2**53  # beyond it a JSON number cannot be an exact count (and no benchmark has so many items)
TOLERANCE = 1e-6  # a stored rate may differ from the one its counts give by float rounding, no more


def _rate(value: float | None, where: str, name: str) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise RecordError(f"{where}: {name}: {value!r} is not a rate between 0 and 1")


def _agrees(value: float | None, expected: float | None, where: str, name: str, why: str) -> None:
    """A stored rate must be the one its counts give (None where they give none)."""
    if value is None:
        return
    if expected is None or abs(value - expected) > TOLERANCE:
        shown = "none" if expected is None else f"{expected:.6g}"
        raise RecordError(f"{where}: {name}: {value!r} contradicts the counts ({why} gives {shown})")


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


@dataclass(frozen=True, kw_only=True)
class Cell(Part):
    """Verdict counts of one scenario of one task, with the rates derived from them."""

    EXTRA: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = "Counts of one task or scenario; errors are counted, never folded into safe."

    n: int = field(help="items: safe + unsafe + error")
    safe: int
    unsafe: int
    error: int
    asr: float | None = field(default=None, help="unsafe / (safe + unsafe); null when nothing was judged")
    asr_ci95: tuple[float, float] | None = field(default=None, help="Wilson 95% interval of asr")
    official_unsafe: int | None = field(
        default=None, help="replies exactly 'unsafe' (the official scripts' rule); null: not recorded"
    )
    asr_official: float | None = field(default=None, help="official_unsafe / n: the official rule, errors counted")
    extra: dict[str, Any] = field(factory=dict)

    @classmethod
    def _prepare(cls, data: Any, where: str) -> Any:
        if isinstance(data, dict) and "n" not in data and all(isinstance(data.get(k), int) for k in ("safe", "unsafe")):
            data = {
                **data,
                "n": sum(data.get(k, 0) for k in ("safe", "unsafe", "error") if isinstance(data.get(k), int)),
            }
        return data

    @property
    def judged(self) -> int:
        return self.safe + self.unsafe

    def check(self, where: str, name: str) -> None:
        """Counts in range and adding up; each stored rate the one its counts give."""
        for key in ("n", "safe", "unsafe", "error", "official_unsafe"):
            value = getattr(self, key)
            if value is not None and not 0 <= value <= MAX_COUNT:
                raise RecordError(f"{where}: {name}.{key}: {'negative' if value < 0 else 'out of range'} count")
        if self.n != self.safe + self.unsafe + self.error:
            raise RecordError(
                f"{where}: {name}: 'n' ({self.n}) is not safe + unsafe + error ({self.safe + self.unsafe + self.error})"
            )
        if self.official_unsafe is not None and self.official_unsafe > self.n:
            raise RecordError(f"{where}: {name}: 'official_unsafe' must be a count between 0 and n")
        _rate(self.asr, where, f"{name}.asr")
        _rate(self.asr_official, where, f"{name}.asr_official")
        judged = self.judged
        _agrees(self.asr, self.unsafe / judged if judged else None, where, f"{name}.asr", "unsafe / (safe + unsafe)")
        if self.official_unsafe is not None:  # without the count (older summaries) the rate cannot be checked
            official = self.official_unsafe / self.n if self.n else None
            _agrees(self.asr_official, official, where, f"{name}.asr_official", "official_unsafe / n")
        if self.asr_ci95 is not None:
            lo, hi = self.asr_ci95
            if not 0.0 <= lo <= hi <= 1.0 or (
                self.asr is not None and not lo - TOLERANCE <= self.asr <= hi + TOLERANCE
            ):
                raise RecordError(f"{where}: {name}.asr_ci95: {[lo, hi]} is not an interval in [0, 1] around asr")


@dataclass(frozen=True, kw_only=True)
class TaskCounts(Cell):
    """A task's counts pooled over its scenarios, its macro figures, and each scenario's counts."""

    DESCRIPTION: ClassVar[str] = "Counts of one task over all its items, with macro figures and per-scenario counts."

    asr_macro: float | None = field(default=None, help="mean over scenarios of the per-scenario asr (the papers')")
    asr_official_macro: float | None = field(
        default=None, help="mean over scenarios of asr_official (the official scripts' headline)"
    )
    scenarios: dict[str, Cell] = field(factory=dict)

    def check(self, where: str, name: str) -> None:
        """A task's own counts, then its totals against its scenarios' and its macro figures against their rates."""
        super().check(where, name)
        _rate(self.asr_macro, where, f"{name}.asr_macro")
        _rate(self.asr_official_macro, where, f"{name}.asr_official_macro")
        if not self.scenarios:
            return
        cells = list(self.scenarios.values())
        for key in ("n", "safe", "unsafe", "error"):
            total = sum(getattr(c, key) for c in cells)
            if getattr(self, key) != total:
                raise RecordError(
                    f"{where}: {name}.{key}: {getattr(self, key)} is not the sum over its scenarios ({total})"
                )
        officials = [c.official_unsafe for c in cells]
        if self.official_unsafe is not None and None not in officials:
            total = sum(o for o in officials if o is not None)
            if self.official_unsafe != total:
                raise RecordError(
                    f"{where}: {name}.official_unsafe: {self.official_unsafe} is not the sum over its scenarios ({total})"
                )
        mean = "the mean over its scenarios"
        _agrees(self.asr_macro, _mean([c.asr for c in cells]), where, f"{name}.asr_macro", mean)
        _agrees(
            self.asr_official_macro, _mean([c.asr_official for c in cells]), where, f"{name}.asr_official_macro", mean
        )


@dataclass(frozen=True, kw_only=True)
class GroupScores(Part):
    """A group's scores over the group's tasks present in the run."""

    EXTRA: ClassVar[bool] = True

    asr_macro: float | None = field(default=None, help="mean over tasks of each task's asr_macro")
    asr_micro: float | None = field(default=None, help="pooled unsafe / pooled judged over the group's tasks")
    asr_official_macro: float | None = field(default=None)
    n: int | None = field(default=None, omit_none=True)
    error: int | None = field(default=None, omit_none=True)
    tasks: list[str] = field(factory=list, help="the group's tasks this run evaluated")
    extra: dict[str, Any] = field(factory=dict)

    def check(self, where: str, name: str) -> None:
        for key in ("asr_macro", "asr_micro", "asr_official_macro"):
            _rate(getattr(self, key), where, f"{name}.{key}")


@dataclass(frozen=True, kw_only=True)
class BenchFingerprint(Part):
    """What the run was evaluated on: the bench folder and its manifests' digests, and where its media came from."""

    EXTRA: ClassVar[bool] = True

    path: str | None = field(default=None, help="the bench folder as the run saw it")
    manifest_sha256: str = field(help="one digest over the evaluated tasks' manifests (records.manifest_digest)")
    task_manifests: dict[str, str] = field(factory=dict, help="each task's manifest digest")
    media: dict[str, str] = field(factory=dict, help="per task: official, rendered, mixed or none")
    extra: dict[str, Any] = field(factory=dict)

    @classmethod
    def _prepare(cls, data: Any, where: str) -> Any:
        if isinstance(data, dict) and data.get("path") is not None and not isinstance(data["path"], str):
            data = {**data, "path": None}  # a hand-written path that is no string names nothing
        return data


@dataclass(frozen=True, kw_only=True)
class RefusalRates(Part):
    """Over-refusal rates of one modality: the share of benign requests refused, by each rule that read them."""

    EXTRA: ClassVar[bool] = True

    keyword: float | None = field(default=None, omit_none=True, help="the keyword judge's refusal rate")
    strmatch: float | None = field(default=None, omit_none=True, help="XSTest's string-match rate")
    gpt: float | None = field(default=None, omit_none=True, help="XSTest's GPT classifier's rate")
    n: int | None = field(default=None, omit_none=True)
    extra: dict[str, Any] = field(factory=dict)

    def rates(self) -> dict[str, float]:
        """{judge: rate} of the rates present, in REFUSAL_JUDGES order."""
        return {j: v for j in REFUSAL_JUDGES if (v := getattr(self, j)) is not None}

    def check(self, where: str, name: str) -> None:
        for judge in REFUSAL_JUDGES:
            _rate(getattr(self, judge), where, f"{name}.{judge}")


@dataclass(frozen=True, kw_only=True)
class Summary(Record):
    """One run's summary.json. Written by va_safetybench.summary (eval, judge, capability runs); read by every
    consumer through `Summary.load`."""

    FORMAT: ClassVar[str] = "summary"
    VERSION: ClassVar[int] = 2  # 1: no format_version; over_refusal values could be a bare keyword rate
    EXTRA: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = "RUN_DIR/summary.json (or summary-{judge}.json): one run, its counts and scores."

    model: str = field(help="BACKEND:NAME")
    backend: str | None = field(default=None, help="hf, vllm, openai or tiny")
    random_weights: bool = field(default=False, help="true for untrained test models: their figures mean nothing")
    judge: JudgeIdentity | None = field(default=None, omit_none=True)
    judge_agreement: dict[str, Any] | None = field(
        default=None,
        omit_none=True,
        help="the judge's known agreement with human labels (judges.trust): measured, published or unmeasured",
    )
    bench: BenchFingerprint | None = field(default=None, omit_none=True)
    created: str = field(default="", help="when the run finished (UTC, ISO 8601)")
    versions: dict[str, Any] = field(factory=dict, help="python and package versions")
    extra: dict[str, Any] = field(factory=dict)
    errors: int | None = field(default=None, omit_none=True, help="items with verdict error, over all tasks")
    tasks: dict[str, TaskCounts] = field(factory=dict, omit_empty=True, help="safety tasks: counts and ASR")
    groups: dict[str, GroupScores] = field(factory=dict, omit_empty=True)
    generation: dict[str, Any] | None = field(default=None, omit_empty=True, help="max_new_tokens, temperature, limit")
    alignment: dict[str, Any] | None = field(default=None, omit_empty=True, help="how an aligned checkpoint was made")
    capability: dict[str, dict[str, float]] = field(
        factory=dict, omit_empty=True, help="per capability task: its metrics"
    )
    over_refusal: dict[str, RefusalRates] = field(factory=dict, omit_empty=True, help="per modality: refusal rates")
    scorers: dict[str, dict[str, Any]] = field(
        factory=dict, omit_empty=True, help="per capability task: which rule scored it"
    )

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int, where: str) -> dict[str, Any]:
        """v1 -> v2: an over-refusal entry that is a bare number (written before the GPT classifier) is the
        keyword rate."""
        refusal = data.get("over_refusal")
        if isinstance(refusal, dict):
            data["over_refusal"] = {
                m: {"keyword": v} if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                for m, v in refusal.items()
            }
        return data

    def check(self, where: str, name: str) -> None:
        """Types were checked field by field; here what the fields must agree on (the place for more such rules)."""
        if self.errors is not None and self.errors < 0:
            raise RecordError(f"{where}: errors: negative count")
        if self.errors is not None and self.tasks and self.errors != sum(t.error for t in self.tasks.values()):
            total = sum(t.error for t in self.tasks.values())
            raise RecordError(f"{where}: errors: {self.errors} is not the sum of the tasks' errors ({total})")
