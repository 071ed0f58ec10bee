"""Small, dependency-free statistics for attack success rates (ASR = unsafe / (safe + unsafe)).

Standard library only (no scipy), so the leaderboard and the CI gate run anywhere. The per-cell
Wilson interval is the judges' own (judges.aggregate), so the site and summary.json agree.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def mean_interval(cells: list[tuple[int, int]], z: float = Z95) -> tuple[float, float, float] | None:
    """Equal-weight mean of several proportions (macro ASR) with an approximate 95% interval.

    `cells` are (unsafe, judged) pairs; cells with nothing judged are left out. The variance is the
    stratified one, sum(p(1-p)/n) / S^2, with each p shrunk as (k+2)/(n+4) (Agresti-Coull) so that
    an all-safe or all-unsafe cell still contributes uncertainty. Returns (mean, lo, hi).
    """
    cells = [(k, n) for k, n in cells if n > 0]
    if not cells:
        return None
    s = len(cells)
    mean = sum(k / n for k, n in cells) / s
    var = sum(((k + 2) / (n + 4)) * (1 - (k + 2) / (n + 4)) / (n + 4) for k, n in cells) / (s * s)
    half = z * math.sqrt(var)
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided Fisher exact p-value that sample 2's rate exceeds sample 1's.

    P(X >= k2) for X ~ Hypergeometric(population n1+n2, successes k1+k2, draws n2).
    """
    total, succ = n1 + n2, k1 + k2
    lo, hi = max(0, succ - n1), min(succ, n2)
    log_denom = _log_comb(total, n2)
    return min(
        1.0,
        sum(
            math.exp(_log_comb(succ, x) + _log_comb(total - succ, n2 - x) - log_denom)
            for x in range(max(k2, lo), hi + 1)
        ),
    )


def increase_pvalue(k1: int, n1: int, k2: int, n2: int) -> tuple[float, str]:
    """One-sided p-value for "rate 2 > rate 1", and the test used.

    The pooled two-proportion z-test, z = (p2 - p1) / sqrt(p(1-p)(1/n1 + 1/n2)) with p the pooled
    rate, when every expected cell count (n_i p and n_i (1-p)) is at least 5; otherwise its normal
    approximation is unreliable and Fisher's exact test is used instead.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0, "none"
    pooled = (k1 + k2) / (n1 + n2)
    if min(n1, n2) * min(pooled, 1 - pooled) < 5:
        return fisher_greater(k1, n1, k2, n2), "fisher"
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return _normal_sf((k2 / n2 - k1 / n1) / se), "z"
