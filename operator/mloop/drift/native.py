"""The ``native`` backend: numpy/scipy tests that reproduce alibi-detect's numbers without its weight.

KS: alibi-detect calls ``scipy.stats.ks_2samp(x_ref, x, alternative="two-sided", mode="asymp")`` per feature.
That sorts the reference on every call and evaluates both empirical CDFs at all n_ref + n_window points.
Here the reference is sorted once; per window only the window is sorted, and both CDFs are evaluated at the
window's distinct values and just below them (the extremes of F_ref - F_window can only sit there), so a
window costs O(n_window log n_ref). The CDF values are the same ``count / n`` divisions scipy makes, so the
statistic is bit-identical; the p-value is scipy's ``kstwo.sf(d, round(n_ref n_w / (n_ref + n_w)))``,
evaluated for all features at once by ``mloop.drift.kstwo`` (scipy computes it one value at a time, in Python,
and that was two thirds of a window's cost).

Chi-square: alibi-detect's ChiSquareDrift builds a 2 x k contingency table over the union of the reference's
and the window's categories and calls ``scipy.stats.chi2_contingency`` (Yates' correction when k = 2). Here
the reference counts are taken once; per window only the window is counted. A category the reference never
saw gets a reference count of 0 and adds (n_ref * c / N)-weighted terms to the statistic, which is how an
unseen category becomes a drift signal (alibi does the same, as its union table shows). The tables of all
features are scored together (``chi2_statistics``), and features given as integer codes are counted
together (``CodeCounter``), so a window costs a fixed number of numpy calls; category strings still need
one dict count per feature.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import special

from mloop.drift.detector import Columns, FeatureSpec, MmdSettings, TestResult, split_kinds
from mloop.drift.kstwo import kstwo_sf
from mloop.drift.mmd import PreparedMmd

__all__ = [
    "CodeCounter",
    "NativeDetector",
    "PreparedCategorical",
    "PreparedNumeric",
    "chi2_pvalues",
    "chi2_statistic",
    "chi2_statistics",
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
        w = np.array(window, dtype=np.float64)  # a copy: sorted in place below
        missing = np.isnan(w)
        if missing.any():
            w = w[~missing]
        w.sort()
        n1, n2 = self.n, int(w.size)
        if n1 == 0 or n2 == 0:
            return None, n2
        changes = w[1:] != w[:-1]  # w is sorted: a distinct value starts where it changes
        if changes.all():  # no ties in the window, the common case for a continuous feature
            values, upto = w, np.arange(1, n2 + 1)
        else:
            first = np.flatnonzero(np.concatenate(([True], changes)))
            values, upto = w[first], np.append(first[1:], n2)  # window points <= each distinct value
        # F_ref - F_win at each distinct window value (right-continuous CDFs, as scipy's searchsorted 'right')
        right = np.searchsorted(self.sorted, values, side="right")
        at_values = right / n1 - upto / n2
        # ... and at the largest reference point below each distinct value, where F_win has not yet jumped.
        # Reference points below a value number ``right`` unless the reference holds the value itself.
        tied = self.sorted[right - 1] == values
        tied &= right > 0
        left = right
        if tied.any():
            left = right.copy()
            left[tied] = np.searchsorted(self.sorted, values[tied], side="left")
        before = np.concatenate(([0], upto[:-1]))
        just_below = left / n1 - before / n2
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
    return np.asarray(np.clip(kstwo_sf(np.asarray(d, dtype=np.float64), np.round(en)), 0, 1))


def _name(value: object) -> str:
    """How a category is named in a report: integral numeric codes without a trailing ``.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


class PreparedCategorical:
    """A reference column counted once: its categories, their counts and how to find a value's slot.

    Strings (what the checker reads from the request log) are counted with a dict; a column of small
    non-negative integer codes (what alibi-detect is given) goes through a lookup table and ``bincount``
    (``lut``: code -> slot, where codes the reference never saw point one past its categories).
    """

    def __init__(self, values: npt.NDArray[np.generic]) -> None:
        values = np.asarray(values)
        self.lut: npt.NDArray[np.intp] | None = None
        if values.dtype.kind in "iuf":
            uniq, counts = np.unique(values, return_counts=True)
            self.categories: list[object] = uniq.tolist()
            self.counts = counts.astype(np.int64)
            codes = uniq.astype(np.intp) if uniq.size and np.isfinite(uniq).all() else None
            if codes is not None and np.array_equal(codes, uniq) and codes[0] >= 0 and codes[-1] < 1 << 16:
                self.lut = np.full(int(codes[-1]) + 1, codes.size, dtype=np.intp)
                self.lut[codes] = np.arange(codes.size)
        else:
            tally = Counter(values.tolist())
            self.categories = list(tally)
            self.counts = np.array([tally[c] for c in self.categories], dtype=np.int64)
        self.index = {c: i for i, c in enumerate(self.categories)}
        self.n = int(self.counts.sum())
        self.counter = CodeCounter([self]) if self.lut is not None else None

    def counts_of(
        self, window: npt.NDArray[np.generic]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
        """Reference and window counts over the union of categories, and the window's unseen categories."""
        window = np.asarray(window)
        if self.counter is not None and window.dtype.kind in "iuf" and window.size:
            fast = self.counter.counts([window])[0]
            if fast is not None:
                return self.counts, fast, []
        if window.dtype.kind in "iuf":
            uniq, counts = np.unique(window, return_counts=True)
            tally: dict[object, int] = dict(zip(uniq.tolist(), counts.tolist(), strict=True))
        else:
            tally = Counter(window.tolist())
        unseen = [c for c in tally if c not in self.index]
        win = np.zeros(len(self.categories) + len(unseen), dtype=np.int64)
        for category, count in tally.items():
            i = self.index.get(category)
            if i is not None:
                win[i] = count
        win[len(self.categories) :] = [tally[c] for c in unseen]
        ref = np.concatenate((self.counts, np.zeros(len(unseen), dtype=np.int64)))
        return ref, win, [_name(c) for c in unseen]

    def table(self, window: npt.NDArray[np.generic]) -> tuple[npt.NDArray[np.int64], list[str]]:
        """The 2 x k contingency table over the union of categories, and the window's unseen categories."""
        ref, win, unseen = self.counts_of(window)
        return np.vstack((ref, win)), unseen


class CodeCounter:
    """Window counts of categorical features given as codes, all features in a fixed number of numpy calls.

    Each feature's lookup table ends with an "unseen" entry; codes are capped at it as unsigned integers,
    so a negative or too large code lands there without a range check, and one ``bincount`` over the
    concatenated tables counts every feature. A feature with a non-integral value or an unseen code gets
    None: the caller counts it the general way, which names the new values.
    """

    def __init__(self, prepared: Sequence[PreparedCategorical]) -> None:
        tables: list[npt.NDArray[np.intp]] = []
        upper: list[int] = []
        base: list[int] = []
        self.slots: list[tuple[int, int]] = []  # (first slot, number of categories) per feature
        lut_at = slot_at = 0
        for p in prepared:
            assert p.lut is not None
            k = len(p.categories)
            tables.append(np.append(p.lut, k) + slot_at)
            upper.append(p.lut.size)
            base.append(lut_at)
            self.slots.append((slot_at, k))
            lut_at += p.lut.size + 1
            slot_at += k + 1
        self.lut = np.concatenate(tables)
        self.upper = np.array(upper, dtype=np.uintp)[:, None]
        self.base = np.array(base, dtype=np.intp)[:, None]
        self.total = slot_at

    def counts(self, columns: Sequence[npt.NDArray[np.generic]]) -> list[npt.NDArray[np.int64] | None]:
        """Per feature (numeric columns of one length) its window counts, or None (see the class)."""
        values = np.array(columns, dtype=np.float64)
        with np.errstate(invalid="ignore"):  # NaN or huge values: caught by the integrality check
            codes = values.astype(np.intp)
        exact = (codes == values).all(axis=1).tolist()
        unsigned = codes.view(np.uintp)  # negative codes become huge, so one cap handles both ends
        np.minimum(unsigned, self.upper, out=unsigned)
        codes += self.base
        counts = np.bincount(self.lut.take(codes).ravel(), minlength=self.total)
        out: list[npt.NDArray[np.int64] | None] = []
        for ok, (start, k) in zip(exact, self.slots, strict=True):
            window = counts[start : start + k + 1]
            out.append(window[:k] if ok and not window[k] else None)
        return out


def chi2_statistics(
    pairs: Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """``scipy.stats.chi2_contingency`` statistic and degrees of freedom of many 2 x k tables at once.

    Each pair is a table's (reference, window) row. The tables are stacked (zero-padded to the widest), so
    the expected counts, Yates' correction (k = 2, bounded by the difference as in scipy gh-13875) and the
    sums cost a fixed number of numpy calls whatever the number of features. Columns empty on both rows
    cannot occur (categories come from the data); one category means 0 degrees of freedom and statistic 0.
    """
    f = len(pairs)
    sizes = [len(r) for r, _ in pairs]  # plain Python: a handful of features is cheaper without numpy
    if f == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    k = max(sizes)
    padded = any(size != k for size in sizes)
    if padded:
        observed = np.zeros((f, 2, k))
        for i, (r, w) in enumerate(pairs):
            observed[i, 0, : r.size], observed[i, 1, : w.size] = r, w
    else:
        observed = np.array(pairs, dtype=np.float64)  # (feature, row, category)
    rows = observed.sum(axis=2, keepdims=True)
    cols = observed.sum(axis=1, keepdims=True)
    expected = rows * cols / rows.sum(axis=1, keepdims=True)  # as scipy: row sums x column sums / total
    if 2 in sizes:
        yates = np.array(sizes) == 2
        diff = expected[yates] - observed[yates]
        observed[yates] += np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    if padded:
        terms = np.divide((observed - expected) ** 2, expected, out=np.zeros_like(observed), where=cols > 0)
    else:
        terms = (observed - expected) ** 2 / expected
    dof = np.array(sizes, dtype=np.int64) - 1
    return np.where(dof > 0, terms.sum(axis=(1, 2)), 0.0), dof


def chi2_statistic(table: npt.NDArray[np.int64]) -> tuple[float, int]:
    """``scipy.stats.chi2_contingency(table)`` statistic and degrees of freedom of one 2 x k table."""
    stat, dof = chi2_statistics([(table[0], table[1])])
    return float(stat[0]), int(dof[0])


def chi2_pvalues(
    statistics: Sequence[float] | FloatArray, dofs: Sequence[int] | npt.NDArray[np.int64]
) -> FloatArray:
    """``chi2.sf`` for all features in one call; 0 degrees of freedom means p = 1, as in scipy."""
    stat = np.asarray(statistics, dtype=np.float64)
    dof = np.asarray(dofs, dtype=np.float64)
    return np.asarray(np.where(dof > 0, special.chdtrc(dof, stat), 1.0))  # chdtrc(0, x) is nan or 0, silently


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
        self._coded: tuple[list[str], CodeCounter] | None = None

    def fit(self, reference: Columns) -> None:
        self._num = {name: PreparedNumeric(reference[name]) for name in self.numeric}
        self._cat = {name: PreparedCategorical(reference[name]) for name in self.categorical}
        coded = [name for name in self.categorical if self._cat[name].lut is not None]
        self._coded = (coded, CodeCounter([self._cat[n] for n in coded])) if coded else None
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
        chi_pairs: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
        coded = self._coded_counts(window)
        for name in self.categorical:
            cat = self._cat[name]
            values = window[name]
            results[name] = TestResult(name, "categorical", "chi2", None, None, cat.n, int(values.size))
            if values.size == 0 or cat.n == 0:
                results[name].note = "no values to compare"
                continue
            if name in coded:
                ref, win = cat.counts, coded[name]
            else:
                ref, win, results[name].unseen = cat.counts_of(values)
            chi_names.append(name)
            chi_pairs.append((ref, win))
        chi_stats, chi_dofs = chi2_statistics(chi_pairs)
        for name, stat, value in zip(chi_names, chi_stats, chi2_pvalues(chi_stats, chi_dofs), strict=True):
            results[name].statistic = float(stat)
            results[name].p_value = float(value)
        out = [results[f.name] for f in self.features]
        if self._mmd is not None:
            out.append(self._mmd.test(np.column_stack([window[n] for n in self.numeric])))
        return out

    def _coded_counts(self, window: Columns) -> dict[str, npt.NDArray[np.int64]]:
        """Window counts of the features given as codes, counted together (see ``CodeCounter``)."""
        if self._coded is None:
            return {}
        names, counter = self._coded
        columns = [np.asarray(window[n]) for n in names]
        size = columns[0].size
        if not size or any(c.dtype.kind not in "iuf" or c.size != size for c in columns):
            return {}
        return {n: c for n, c in zip(names, counter.counts(columns), strict=True) if c is not None}
