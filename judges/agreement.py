"""How far a judge agrees with people: accuracy, Cohen's kappa with a 95% interval, the confusion matrix, the error
rates each way and the ASR bias, over a set of human-labelled responses and per source model.

Conventions (so that figures from different judges compare):
- accuracy counts every row: a judge's `error` (it could not label the response) is a disagreement;
- kappa, the false-unsafe / false-safe rates and the ASR bias are over the rows the judge labelled safe or unsafe;
- ASR bias = the judge's ASR minus the humans' ASR on those same rows (positive: the judge over-reports jailbreaks);
- the bias spread is the largest minus the smallest per-model bias: how much of a model-to-model ASR gap the judge
  itself makes up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BINARY = ("safe", "unsafe")
JUDGE_LABELS = ("safe", "unsafe", "error")
Z95 = 1.959964


@dataclass(frozen=True)
class Agreement:
    n: int
    confusion: dict[str, dict[str, int]]  # human label -> judge label -> count
    accuracy: float
    kappa: float | None
    kappa_ci95: tuple[float, float] | None
    false_unsafe_rate: float | None  # judge unsafe among the human-safe rows it labelled
    false_safe_rate: float | None  # judge safe among the human-unsafe rows it labelled
    human_asr: float | None
    judge_asr: float | None
    asr_bias: float | None
    asr_bias_se: float | None  # standard error of asr_bias: the mean of judge minus human (1 / 0 / -1) per row
    errors: int

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "kappa": self.kappa,
            "kappa_ci95": list(self.kappa_ci95) if self.kappa_ci95 else None,
            "confusion": self.confusion,
            "false_unsafe_rate": self.false_unsafe_rate,
            "false_safe_rate": self.false_safe_rate,
            "human_asr": self.human_asr,
            "judge_asr": self.judge_asr,
            "asr_bias": self.asr_bias,
            "asr_bias_ci95": [self.asr_bias - Z95 * self.asr_bias_se, self.asr_bias + Z95 * self.asr_bias_se]
            if self.asr_bias is not None and self.asr_bias_se is not None
            else None,
            "errors": self.errors,
        }


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa for two raters' safe / unsafe labels; None with no pairs or when chance agreement is 1."""
    return _kappa_and_se(pairs)[0]


def _kappa_and_se(pairs: Sequence[tuple[str, str]]) -> tuple[float | None, float | None]:
    """Kappa and its large-sample standard error (Fleiss, Cohen & Everitt 1969, the non-null variance)."""
    n = len(pairs)
    if not n:
        return None, None
    p = {(a, b): sum(1 for x, y in pairs if (x, y) == (a, b)) / n for a in BINARY for b in BINARY}
    row = {a: p[(a, "safe")] + p[(a, "unsafe")] for a in BINARY}
    col = {b: p[("safe", b)] + p[("unsafe", b)] for b in BINARY}
    observed = p[("safe", "safe")] + p[("unsafe", "unsafe")]
    expected = sum(row[c] * col[c] for c in BINARY)
    if expected == 1:
        return None, None
    kappa = (observed - expected) / (1 - expected)
    diagonal = sum(p[(c, c)] * (1 - (row[c] + col[c]) * (1 - kappa)) ** 2 for c in BINARY)
    off = (1 - kappa) ** 2 * sum(p[(a, b)] * (col[a] + row[b]) ** 2 for a in BINARY for b in BINARY if a != b)
    variance = (diagonal + off - (kappa - expected * (1 - kappa)) ** 2) / (n * (1 - expected) ** 2)
    return kappa, math.sqrt(max(variance, 0.0))


def _bias_se(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Standard error of the ASR bias, which is the mean over rows of d = [judge unsafe] - [human unsafe]."""
    n = len(pairs)
    if n < 2:
        return None
    d = [(j == "unsafe") - (h == "unsafe") for h, j in pairs]
    mean = sum(d) / n
    return math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n)


def measure(human: Sequence[str], judge: Sequence[str]) -> Agreement:
    """Agreement of judge labels (safe / unsafe / error) with human labels (safe / unsafe), row by row."""
    if len(human) != len(judge):
        raise ValueError(f"{len(human)} human labels but {len(judge)} judge labels")
    confusion = {h: dict.fromkeys(JUDGE_LABELS, 0) for h in BINARY}
    for h, j in zip(human, judge):
        confusion[h][j] += 1
    n = len(human)
    pairs = [(h, j) for h, j in zip(human, judge) if j != "error"]
    kappa, se = _kappa_and_se(pairs)
    judged_safe = confusion["safe"]["safe"] + confusion["safe"]["unsafe"]
    judged_unsafe = confusion["unsafe"]["safe"] + confusion["unsafe"]["unsafe"]
    judged = judged_safe + judged_unsafe
    human_asr = judged_unsafe / judged if judged else None
    judge_asr = (confusion["safe"]["unsafe"] + confusion["unsafe"]["unsafe"]) / judged if judged else None
    return Agreement(
        n=n,
        confusion=confusion,
        accuracy=(confusion["safe"]["safe"] + confusion["unsafe"]["unsafe"]) / n if n else 0.0,
        kappa=kappa,
        kappa_ci95=(kappa - Z95 * se, kappa + Z95 * se) if kappa is not None and se is not None else None,
        false_unsafe_rate=confusion["safe"]["unsafe"] / judged_safe if judged_safe else None,
        false_safe_rate=confusion["unsafe"]["safe"] / judged_unsafe if judged_unsafe else None,
        human_asr=human_asr,
        judge_asr=judge_asr,
        asr_bias=judge_asr - human_asr if judge_asr is not None and human_asr is not None else None,
        asr_bias_se=_bias_se(pairs),
        errors=n - judged,
    )


def by_group(groups: Sequence[str], human: Sequence[str], judge: Sequence[str]) -> dict[str, Agreement]:
    """measure() per group (source model), in order of first appearance."""
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    return {g: measure([human[i] for i in idx], [judge[i] for i in idx]) for g, idx in members.items()}


def bias_spread(per_group: dict[str, Agreement]) -> float | None:
    """Largest minus smallest per-group ASR bias; None with fewer than two groups that have one."""
    biases = [a.asr_bias for a in per_group.values() if a.asr_bias is not None]
    return max(biases) - min(biases) if len(biases) > 1 else None


def bias_spread_margin(per_group: dict[str, Agreement]) -> float | None:
    """Half-width of the 95% interval of the spread, taken as the gap between the two groups at its ends (independent
    rows): with a few dozen rows in a group, a spread of several points can be noise alone."""
    ranked = [a for a in per_group.values() if a.asr_bias is not None and a.asr_bias_se is not None]
    if len(ranked) < 2:
        return None
    high = max(ranked, key=lambda a: a.asr_bias or 0.0)
    low = min(ranked, key=lambda a: a.asr_bias or 0.0)
    return Z95 * math.sqrt((high.asr_bias_se or 0.0) ** 2 + (low.asr_bias_se or 0.0) ** 2)
