"""Maximum mean discrepancy with a Gaussian kernel and a permutation test done as one matrix product.

The unbiased MMD^2 of a split of the pooled sample into X (m points, indicator vector a) and Y (n points)
only needs ``a^T K a`` and ``r^T a`` (r = K 1) besides constants, because K's diagonal is 1:

    S_xx = a^T K a - m,   S_xy = r^T a - a^T K a,   S_yy = 1^T K 1 - 2 r^T a + a^T K a - n.

So P permutations are P indicator columns A, and ``K @ A`` evaluates all of them at once (BLAS), instead of
gathering an m x m and an n x n sub-matrix per permutation as a loop does. The reference-reference kernel
block and the bandwidth (median heuristic on the reference, so every window is measured with the same
kernel) are computed once in ``fit``. p = (1 + #{null >= observed}) / (1 + P), a valid permutation p-value;
its resolution 1 / (P + 1) must be below the corrected threshold, hence the default of 1000 permutations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mloop.drift.detector import MmdSettings, TestResult

__all__ = [
    "PreparedMmd",
    "gaussian_kernel",
    "mmd2_from_indicators",
    "mmd2_naive",
    "permutation_indicators",
    "permutation_pvalue",
]

FloatArray = npt.NDArray[np.float64]


def squared_distances(x: FloatArray, y: FloatArray) -> FloatArray:
    """Pairwise squared Euclidean distances, clipped at 0 against rounding."""
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * (x @ y.T)
    return np.asarray(np.maximum(d, 0.0))


def gaussian_kernel(x: FloatArray, y: FloatArray, sigma: float) -> FloatArray:
    """k(x, y) = exp(-|x - y|^2 / (2 sigma^2))."""
    return np.asarray(np.exp(-squared_distances(x, y) / (2.0 * sigma * sigma)))


def median_sigma(x: FloatArray) -> float:
    """Median heuristic: sigma^2 = median of the off-diagonal squared distances / 2 (1.0 if degenerate)."""
    d = squared_distances(x, x)
    off = d[~np.eye(len(x), dtype=bool)]
    med = float(np.median(off)) if off.size else 0.0
    return float(np.sqrt(med / 2.0)) if med > 0 else 1.0


def permutation_indicators(n_total: int, m: int, permutations: int, seed: int) -> FloatArray:
    """An n_total x (1 + P) 0/1 matrix: column 0 is the observed split (first m rows are X), the others
    are seeded random splits with m ones each."""
    rng = np.random.default_rng(seed)
    ranks = rng.random((permutations, n_total)).argsort(axis=1).argsort(axis=1)
    a = np.empty((n_total, permutations + 1))
    a[:, 0] = np.arange(n_total) < m
    a[:, 1:] = (ranks < m).T
    return a


def mmd2_from_indicators(kernel: FloatArray, a: FloatArray) -> FloatArray:
    """Unbiased MMD^2 for every indicator column of ``a``, via one ``kernel @ a`` product."""
    n_total = kernel.shape[0]
    m = float(a[:, 0].sum())
    n = n_total - m
    row = kernel.sum(axis=1)
    total = float(row.sum())
    aka = np.einsum("ij,ij->j", a, kernel @ a)
    ra = row @ a
    s_xx = aka - m
    s_yy = total - 2.0 * ra + aka - n
    s_xy = ra - aka
    return np.asarray(s_xx / (m * (m - 1)) + s_yy / (n * (n - 1)) - 2.0 * s_xy / (m * n))


def mmd2_naive(kernel: FloatArray, x_index: npt.NDArray[np.intp], y_index: npt.NDArray[np.intp]) -> float:
    """The textbook unbiased MMD^2 of one split, by sub-matrices (the per-permutation loop baseline)."""
    m, n = len(x_index), len(y_index)
    kxx = kernel[np.ix_(x_index, x_index)]
    kyy = kernel[np.ix_(y_index, y_index)]
    kxy = kernel[np.ix_(x_index, y_index)]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2.0 * kxy.sum() / (m * n)
    )


def permutation_pvalue(observed: float, null: FloatArray) -> float:
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))


class PreparedMmd:
    """The reference side of MMD: standardisation, bandwidth and the reference kernel block, once."""

    def __init__(self, reference: npt.NDArray[np.generic], settings: MmdSettings) -> None:
        x = np.asarray(reference, dtype=np.float64)
        self.settings = settings
        self.mean = np.nanmean(x, axis=0) if len(x) else np.zeros(x.shape[1])
        std = np.nanstd(x, axis=0) if len(x) else np.ones(x.shape[1])
        self.std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        self.mean = np.where(np.isfinite(self.mean), self.mean, 0.0)
        if len(x) > settings.max_reference:
            pick = np.sort(np.random.default_rng(settings.seed).choice(len(x), settings.max_reference, False))
            x = x[pick]
        self.x = self._scale(x)
        self.sigma = median_sigma(self.x)
        self.k_ref = gaussian_kernel(self.x, self.x, self.sigma)

    def _scale(self, x: FloatArray) -> FloatArray:
        """Standardise by the reference; a missing value becomes the reference mean (0 after scaling)."""
        z = (x - self.mean) / self.std
        return np.asarray(np.where(np.isnan(z), 0.0, z))

    def kernel(self, window: npt.NDArray[np.generic]) -> tuple[FloatArray, int]:
        """The pooled kernel matrix [reference; window] and m (the reference size)."""
        y = np.asarray(window, dtype=np.float64)
        if len(y) > self.settings.max_window:
            pick = np.random.default_rng(self.settings.seed + 1).choice(
                len(y), self.settings.max_window, False
            )
            y = y[np.sort(pick)]
        y = self._scale(y)
        m = len(self.x)
        k = np.empty((m + len(y), m + len(y)))
        k[:m, :m] = self.k_ref
        k[:m, m:] = gaussian_kernel(self.x, y, self.sigma)
        k[m:, :m] = k[:m, m:].T
        k[m:, m:] = gaussian_kernel(y, y, self.sigma)
        np.fill_diagonal(k, 1.0)
        return k, m

    def test(self, window: npt.NDArray[np.generic]) -> TestResult:
        m = len(self.x)
        n = len(window)
        result = TestResult("_mmd", "multivariate", "mmd", None, None, m, min(n, self.settings.max_window))
        if m < 2 or n < 2:
            result.note = "MMD needs at least two rows on each side"
            return result
        k, m = self.kernel(window)
        a = permutation_indicators(k.shape[0], m, self.settings.permutations, self.settings.seed)
        values = mmd2_from_indicators(k, a)
        result.statistic = float(values[0])
        result.p_value = permutation_pvalue(values[0], values[1:])
        return result
