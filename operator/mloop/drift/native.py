"""The ``native`` backend: numpy/scipy tests that reproduce alibi-detect's numbers without its weight.

KS: alibi-detect calls ``scipy.stats.ks_2samp(x_ref, x, alternative="two-sided", mode="asymp")`` per feature.
That sorts the reference on every call and evaluates both empirical CDFs at all n_ref + n_window points.
Here the reference is sorted once; per window only the window is sorted, and both CDFs are evaluated at the
window's distinct values and just below them (the extremes of F_ref - F_window can only sit there), so a
window costs O(n_window log n_ref). The CDF values are the same ``count / n`` divisions scipy makes, so the
statistic is bit-identical; the p-value is scipy's own ``kstwo.sf(d, round(n_ref n_w / (n_ref + n_w)))``,
evaluated for all features in one vectorised call.

Chi-square: alibi-detect's ChiSquareDrift builds a 2 x k contingency table over the union of the reference's
and the window's categories and calls ``scipy.stats.chi2_contingency`` (Yates' correction when k = 2). Here
the reference counts are taken once; per window only the window is counted. A category the reference never
saw gets a reference count of 0 and adds (n_ref * c / N)-weighted terms to the statistic, which is how an
unseen category becomes a drift signal (alibi does the same, as its union table shows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from mloop.drift.detector import Columns, FeatureSpec, MmdSettings, TestResult, split_kinds
from mloop.drift.mmd import PreparedMmd

__all__ = [
    "NativeDetector",
    "PreparedCategorical",
    "PreparedNumeric",
    "chi2_pvalues",
    "chi2_statistic",
    "ks_pvalues",
]

FloatArray = npt.NDArray[np.float64]


class PreparedNumeric:
    """A reference column sorted once (NaN dropped), ready for any number of KS comparisons."""

    def __init__(self, values: npt.NDArray[np.generic]) -> None:
        x = np.asarray(values, dtype=np.float64)
        self.sorted: FloatArray = np.sort(x[~np.isnan(x)])
        self.n = int(self.sorted.size)

    def statistic(self, window: npt.NDArray[np.generic]) -> tuple[float | None, int]:
        """The two-sided KS statistic against the window's non-missing values, and how many there were."""
        w = np.asarray(window, dtype=np.float64)
        w = np.sort(w[~np.isnan(w)])
        n1, n2 = self.n, int(w.size)
        if n1 == 0 or n2 == 0:
            return None, n2
        starts = np.empty(n2, dtype=bool)  # w is sorted: a distinct value starts where it changes
        starts[0] = True
        np.not_equal(w[1:], w[:-1], out=starts[1:])
        first = np.flatnonzero(starts)
        values = w[first]
        below_window = np.append(first[1:], n2)  # window points <= each distinct value
        # F_ref - F_win at each distinct window value (right-continuous CDFs, as scipy's searchsorted 'right')
        at_values = np.searchsorted(self.sorted, values, side="right") / n1 - below_window / n2
        # ... and at the largest reference point below each distinct value, where F_win has not yet jumped.
        before = np.concatenate(([0], below_window[:-1]))
        just_below = np.searchsorted(self.sorted, values, side="left") / n1 - before / n2
        max_s = max(float(at_values.max()), float(just_below.max()))
        min_s = float(np.clip(-at_values.min(), 0.0, 1.0))
        return (min_s if min_s > max_s else max_s), n2


def ks_pvalues(d: Sequence[float], n_ref: Sequence[int], n_window: Sequence[int]) -> FloatArray:
    """scipy's two-sided asymptotic KS p-value (``ks_2samp(mode="asymp")``), vectorised over features."""
    if len(d) == 0:
        return np.zeros(0)
    m = np.maximum(np.asarray(n_ref, dtype=np.float64), np.asarray(n_window, dtype=np.float64))
    n = np.minimum(np.asarray(n_ref, dtype=np.float64), np.asarray(n_window, dtype=np.float64))
    en = m * n / (m + n)
    return np.asarray(np.clip(stats.kstwo.sf(np.asarray(d, dtype=np.float64), np.round(en)), 0, 1))


class PreparedCategorical:
    """A reference column counted once: categories in first-seen order and their counts."""

    def __init__(self, values: npt.NDArray[np.generic]) -> None:
        counts = Counter(values.tolist())
        self.categories: list[str] = list(counts)
        self.index = {c: i for i, c in enumerate(self.categories)}
        self.counts = np.array([counts[c] for c in self.categories], dtype=np.int64)
        self.n = int(self.counts.sum())

    def table(self, window: npt.NDArray[np.generic]) -> tuple[npt.NDArray[np.int64], list[str]]:
        """The 2 x k contingency table over the union of categories, and the window's unseen categories."""
        counts = Counter(window.tolist())
        unseen = [c for c in counts if c not in self.index]
        win = np.zeros(len(self.categories) + len(unseen), dtype=np.int64)
        for category, count in counts.items():
            i = self.index.get(category)
            if i is not None:
                win[i] = count
        win[len(self.categories) :] = [counts[c] for c in unseen]
        ref = np.concatenate((self.counts, np.zeros(len(unseen), dtype=np.int64)))
        return np.vstack((ref, win)), unseen


def chi2_statistic(table: npt.NDArray[np.int64]) -> tuple[float, int]:
    """``scipy.stats.chi2_contingency(table)`` statistic and degrees of freedom, step for step.

    Columns empty on both rows cannot occur here (categories come from the data); a table with one
    category has 0 degrees of freedom and statistic 0, as in scipy.
    """
    observed = table.astype(np.float64)
    rows = observed.sum(axis=1, keepdims=True)
    cols = observed.sum(axis=0, keepdims=True)
    expected = rows * cols / observed.sum()
    dof = expected.size - sum(expected.shape) + expected.ndim - 1
    if dof == 0:
        return 0.0, 0
    if dof == 1:  # Yates' continuity correction, bounded by the difference (scipy gh-13875)
        diff = expected - observed
        observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    return float(((observed - expected) ** 2 / expected).sum()), dof


def chi2_pvalues(statistics: Sequence[float], dofs: Sequence[int]) -> FloatArray:
    """``chi2.sf`` for all features in one call; 0 degrees of freedom means p = 1, as in scipy."""
    stat = np.asarray(statistics, dtype=np.float64)
    dof = np.asarray(dofs, dtype=np.float64)
    p = np.ones_like(stat)
    live = dof > 0
    p[live] = special.chdtrc(dof[live], stat[live])
    return p


class NativeDetector:
    """KS per numeric feature, chi-square per categorical feature, optional MMD; reference prepared once."""

    backend = "native"

    def __init__(self, features: Sequence[FeatureSpec], mmd: MmdSettings | None = None) -> None:
        self.features = list(features)
        self.numeric, self.categorical = split_kinds(self.features)
        self.mmd_settings = mmd
        self._num: dict[str, PreparedNumeric] = {}
        self._cat: dict[str, PreparedCategorical] = {}
        self._mmd: PreparedMmd | None = None

    def fit(self, reference: Columns) -> None:
        self._num = {name: PreparedNumeric(reference[name]) for name in self.numeric}
        self._cat = {name: PreparedCategorical(reference[name]) for name in self.categorical}
        if self.mmd_settings is not None and self.numeric:
            self._mmd = PreparedMmd(np.column_stack([reference[n] for n in self.numeric]), self.mmd_settings)

    def test(self, window: Columns) -> list[TestResult]:
        results: dict[str, TestResult] = {}
        ks_names: list[str] = []
        ks_d: list[float] = []
        for name in self.numeric:
            prepared = self._num[name]
            d, n_w = prepared.statistic(window[name])
            results[name] = TestResult(name, "numeric", "ks", d, None, prepared.n, n_w)
            if d is None:
                results[name].note = "no non-missing values to compare"
            else:
                ks_names.append(name)
                ks_d.append(d)
        p = ks_pvalues(ks_d, [self._num[n].n for n in ks_names], [results[n].n_window for n in ks_names])
        for name, value in zip(ks_names, p, strict=True):
            results[name].p_value = float(value)
        chi_names: list[str] = []
        chi_stats: list[float] = []
        chi_dofs: list[int] = []
        for name in self.categorical:
            cat = self._cat[name]
            values = window[name]
            if values.size == 0 or cat.n == 0:
                results[name] = TestResult(name, "categorical", "chi2", None, None, cat.n, int(values.size))
                results[name].note = "no values to compare"
                continue
            table, unseen = cat.table(values)
            stat, dof = chi2_statistic(table)
            results[name] = TestResult(
                name, "categorical", "chi2", stat, None, cat.n, int(values.size), unseen
            )
            chi_names.append(name)
            chi_stats.append(stat)
            chi_dofs.append(dof)
        for name, value in zip(chi_names, chi2_pvalues(chi_stats, chi_dofs), strict=True):
            results[name].p_value = float(value)
        out = [results[f.name] for f in self.features]
        if self._mmd is not None:
            out.append(self._mmd.test(np.column_stack([window[n] for n in self.numeric])))
        return out
