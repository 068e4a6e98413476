"""Small, exact statistics the reports use (no third-party numerics: each is a few lines).

- `wilson`: the Wilson score interval of a proportion (good at small counts and near 0 or 1);
- `binomial_upper_tail`: P(X >= k) for X ~ Binomial(n, p), exact;
- `two_proportion_p`: one-sided p-value that proportion b exceeds proportion a (pooled z-test);
- `fisher_greater`: the same question answered exactly (Fisher's exact test, one-sided);
- `brier`: mean squared error of predicted probabilities against 0/1 outcomes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054
"""The two-sided 95% normal quantile."""


def wilson(successes: int, trials: int, *, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (low, high) of successes/trials; (0, 1) with no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))  # rounding never excludes p


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        total += math.exp(log_term)
    return min(1.0, total)


def normal_upper_tail(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def two_proportion_p(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """One-sided p-value that b's proportion exceeds a's (pooled two-proportion z-test); 1.0
    when either sample is empty; 0.5 when nothing varies (all hits or all misses in both: the
    proportions are equal, z = 0), so one more hit in b never raises the p-value."""
    if n_a <= 0 or n_b <= 0:
        return 1.0
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0.0:
        return 0.5
    return normal_upper_tail((hits_b / n_b - hits_a / n_a) / spread)


def fisher_greater(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """One-sided Fisher exact p-value that b's proportion exceeds a's: P(X >= hits_b) for X
    hypergeometric (n_a + n_b items, hits_a + hits_b of them hits, n_b drawn); 1.0 when empty."""
    if n_a <= 0 or n_b <= 0:
        return 1.0
    total, hits = n_a + n_b, hits_a + hits_b

    def log_choose(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    denominator = log_choose(total, n_b)
    p = 0.0
    for x in range(hits_b, min(hits, n_b) + 1):
        if hits - x <= n_a:
            p += math.exp(log_choose(hits, x) + log_choose(total - hits, n_b - x) - denominator)
    return min(1.0, p)


def brier(pairs: Sequence[tuple[float, bool]]) -> float | None:
    """Mean of (predicted - outcome)^2 over (predicted probability, happened) pairs; None if empty."""
    if not pairs:
        return None
    return sum((p - (1.0 if hit else 0.0)) ** 2 for p, hit in pairs) / len(pairs)


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
