"""Confidence intervals and tests used by the checks. Pure numpy/scipy: no keras, no pytest."""

from __future__ import annotations

import math
from statistics import NormalDist


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for ``k`` successes in ``n`` trials.

    Agrees with ``scipy.stats.binomtest(k, n).proportion_ci(confidence, method="wilson")``.

    Example:
        >>> lo, hi = wilson_interval(90, 100)
        >>> round(lo, 4), round(hi, 4)
        (0.8256, 0.9448)
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        msg = f"wilson_interval needs 0 <= k <= n; received k={k}, n={n}"
        raise ValueError(msg)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)  # stdlib: no scipy import at startup
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Exact ends at k = 0 and k = n (rounding would leave e.g. 1e-19 above 0).
    lo = 0.0 if k == 0 else max(0.0, center - half)
    hi = 1.0 if k == n else min(1.0, center + half)
    return lo, hi


def wilson_lower(k: int, n: int, confidence: float = 0.95) -> float:
    """Lower end of the two-sided Wilson interval (the figure accuracy checks judge)."""
    return wilson_interval(k, n, confidence)[0]


def samples_needed(p: float, threshold: float, confidence: float = 0.95, limit: int = 10**7) -> int:
    """Smallest test-set size whose Wilson lower bound at accuracy ``p`` clears ``threshold``.

    Returns ``limit`` when no size up to it would (``p <= threshold``).
    """
    if p <= threshold:
        return limit
    lo, hi = 1, 1
    while hi < limit and wilson_lower(round(p * hi), hi, confidence) <= threshold:
        hi *= 2
    if hi >= limit:
        return limit
    lo = hi // 2
    while lo < hi:
        mid = (lo + hi) // 2
        if wilson_lower(round(p * mid), mid, confidence) > threshold:
            hi = mid
        else:
            lo = mid + 1
    return hi
