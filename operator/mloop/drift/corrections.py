"""Multiple-testing corrections across the tests of one check, as adjusted p-values.

Both are reported as adjusted p-values compared with the unadjusted level alpha, so a reader sees one
number per feature; the decisions are identical to alibi-detect's threshold forms:

- ``bonferroni``: p_adj = min(1, m p); p_adj < alpha  <=>  p < alpha / m (alibi: ``p_vals < p_val / n``).
- ``fdr`` (Benjamini-Hochberg): p_adj(i) = min_{j >= i} m p_(j) / j, capped at 1; p_adj < alpha flags exactly
  the features whose p-value is at most the largest p_(k) < alpha k / m (alibi's ``fdr`` threshold).

Tests that could not run (p is None) are left out of m and stay unflagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["Correction", "adjust", "benjamini_hochberg", "bonferroni"]

Correction = Literal["bonferroni", "fdr"]


def bonferroni(p_values: Sequence[float]) -> list[float]:
    m = len(p_values)
    return [min(1.0, p * m) for p in p_values]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    m = len(p_values)
    if m == 0:
        return []
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted_sorted, 1.0)
    return [float(v) for v in out]


def adjust(p_values: Sequence[float | None], method: Correction) -> list[float | None]:
    """Adjusted p-values in input order; None stays None and does not count towards m."""
    live = [(i, p) for i, p in enumerate(p_values) if p is not None]
    fn = bonferroni if method == "bonferroni" else benjamini_hochberg
    adjusted = fn([p for _, p in live])
    out: list[float | None] = [None] * len(p_values)
    for (i, _), value in zip(live, adjusted, strict=True):
        out[i] = value
    return out
