"""The ``alibi-detect`` backend (BSL 1.1, optional extra ``drift-alibi``): the same interface as ``native``.

Imported only when a check asks for this backend. Numeric features go to KSDrift and categorical ones to
ChiSquareDrift, one single-feature detector each, fitted once on the reference; when no numeric column has
a missing value on either side, one TabularDrift (``categories_per_feature``) scores the whole table in one
call instead. Missing numeric values are dropped before KS, as the native backend does (scipy's KS would
return NaN). Categories are encoded as integer codes; a window category the reference never saw gets a
new code, so alibi's union contingency table counts it (reference count 0), exactly like ``native``.
ChiSquareDrift infers its categories from the reference (its ``categories_per_feature={i: None}`` form
crashes in 0.13; TabularDrift's works).

Only per-feature scores (``score``) are taken from alibi: the corrections are applied by
``mloop.drift.corrections`` for both backends, so the same p-values give the same decisions. alibi-detect
stores statistics and p-values in float32 arrays; they are reported as such (about 7 significant digits).
MMDDrift needs a TensorFlow, PyTorch or KeOps backend; without one the MMD result says so and stays
unflagged rather than failing the check.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mloop.drift.detector import (
    BackendUnavailable,
    Columns,
    FeatureSpec,
    MmdSettings,
    TestResult,
    split_kinds,
)

__all__ = ["AlibiDetector", "load_alibi"]

INSTALL_HINT = (
    "the alibi-detect backend needs the optional extra drift-alibi (pip install 'mloop[drift-alibi]'; "
    "alibi-detect is licensed BSL 1.1 and pins numpy<2), or use detector.backend: native"
)


def load_alibi() -> Any:
    """``alibi_detect.cd``, or ``BackendUnavailable`` naming the extra to install."""
    try:
        # by name, at run time: BSL code is loaded only on request, and the default install has no stubs
        return importlib.import_module("alibi_detect.cd")
    except ImportError as exc:
        raise BackendUnavailable(f"{INSTALL_HINT} ({exc})") from exc


class AlibiDetector:
    """KSDrift / ChiSquareDrift / TabularDrift (and MMDDrift where a deep-learning backend exists)."""

    backend = "alibi-detect"

    def __init__(self, features: Sequence[FeatureSpec], mmd: MmdSettings | None = None) -> None:
        self._cd = load_alibi()
        self.features = list(features)
        self.numeric, self.categorical = split_kinds(self.features)
        self.mmd = mmd
        self._codes: dict[str, dict[str, int]] = {}
        self._single: dict[str, Any] = {}
        self._n_ref: dict[str, int] = {}
        self._tabular: Any = None
        self._mmd_detector: Any = None
        self._mmd_note: str | None = None

    def _encode(
        self, name: str, values: npt.NDArray[np.generic]
    ) -> tuple[npt.NDArray[np.float64], list[str]]:
        codes = self._codes[name]
        unseen = list(Counter(c for c in values.tolist() if c not in codes))
        extra = {c: len(codes) + i for i, c in enumerate(unseen)}
        return np.array([codes.get(c, extra.get(c, -1)) for c in values.tolist()], dtype=np.float64), unseen

    def fit(self, reference: Columns) -> None:
        cd = self._cd
        for name in self.numeric:
            x = np.asarray(reference[name], dtype=np.float64)
            x = x[~np.isnan(x)]
            self._n_ref[name] = int(x.size)
            if x.size:
                self._single[name] = cd.KSDrift(x.reshape(-1, 1), p_val=0.05)
        for name in self.categorical:
            values = reference[name]
            self._codes[name] = {c: i for i, c in enumerate(Counter(values.tolist()))}
            codes, _ = self._encode(name, values)
            self._n_ref[name] = int(codes.size)
            if codes.size:
                self._single[name] = cd.ChiSquareDrift(codes.reshape(-1, 1), p_val=0.05)
        complete = all(not np.isnan(np.asarray(reference[n], dtype=np.float64)).any() for n in self.numeric)
        if complete and len(self.features) > 1 and all(self._n_ref[f.name] for f in self.features):
            matrix = self._matrix(reference)[0]
            cats = {i: None for i, f in enumerate(self.features) if f.kind == "categorical"}
            self._tabular = cd.TabularDrift(matrix, p_val=0.05, categories_per_feature=cats or None)
        if self.mmd is not None and self.numeric:
            self._fit_mmd(np.column_stack([reference[n] for n in self.numeric]))

    def _matrix(self, columns: Columns) -> tuple[npt.NDArray[np.float64], dict[str, list[str]]]:
        out = np.empty((len(next(iter(columns.values()))), len(self.features)))
        unseen: dict[str, list[str]] = {}
        for j, f in enumerate(self.features):
            if f.kind == "numeric":
                out[:, j] = np.asarray(columns[f.name], dtype=np.float64)
            else:
                out[:, j], unseen[f.name] = self._encode(f.name, columns[f.name])
        return out, unseen

    def _fit_mmd(self, x_ref: npt.NDArray[np.generic]) -> None:
        frameworks = importlib.import_module("alibi_detect.utils.frameworks")
        has_pytorch, has_tensorflow = frameworks.has_pytorch, frameworks.has_tensorflow
        backend = "pytorch" if has_pytorch else "tensorflow" if has_tensorflow else None
        if backend is None:
            self._mmd_note = (
                "alibi backend unavailable: MMDDrift needs pytorch or tensorflow, neither is installed"
            )
            return
        x = np.nan_to_num(np.asarray(x_ref, dtype=np.float32))
        permutations = self.mmd.permutations if self.mmd is not None else 100
        self._mmd_detector = self._cd.MMDDrift(x, backend=backend, n_permutations=permutations)

    def test(self, window: Columns) -> list[TestResult]:
        n = len(next(iter(window.values()))) if window else 0
        numeric_complete = all(
            not np.isnan(np.asarray(window[k], dtype=np.float64)).any() for k in self.numeric
        )
        if self._tabular is not None and numeric_complete and n > 0:
            matrix, unseen = self._matrix(window)
            p, d = self._tabular.score(matrix)
            out = [
                TestResult(
                    f.name,
                    f.kind,
                    "ks" if f.kind == "numeric" else "chi2",
                    float(d[j]),
                    float(p[j]),
                    self._n_ref[f.name],
                    n,
                    unseen.get(f.name, []),
                )
                for j, f in enumerate(self.features)
            ]
        else:
            out = [self._single_test(f, window[f.name]) for f in self.features]
        if self.mmd is not None and self.numeric:
            out.append(self._test_mmd(np.column_stack([window[k] for k in self.numeric])))
        return out

    def _single_test(self, feature: FeatureSpec, values: npt.NDArray[np.generic]) -> TestResult:
        unseen: list[str] = []
        if feature.kind == "numeric":
            x = np.asarray(values, dtype=np.float64)
            x = x[~np.isnan(x)]
            test = "ks"
        else:
            x, unseen = self._encode(feature.name, values)
            test = "chi2"
        result = TestResult(
            feature.name, feature.kind, test, None, None, self._n_ref[feature.name], int(x.size)
        )
        if x.size == 0 or feature.name not in self._single:
            result.note = "no values to compare"
            return result
        p, d = self._single[feature.name].score(x.reshape(-1, 1))
        result.statistic, result.p_value, result.unseen = float(d[0]), float(p[0]), unseen
        return result

    def _test_mmd(self, x: npt.NDArray[np.generic]) -> TestResult:
        result = TestResult("_mmd", "multivariate", "mmd", None, None, 0, len(x))
        if self._mmd_detector is None:
            result.note = self._mmd_note
            return result
        pred = self._mmd_detector.predict(np.nan_to_num(np.asarray(x, dtype=np.float32)))
        result.statistic, result.p_value = float(pred["data"]["distance"]), float(pred["data"]["p_val"])
        result.n_reference = int(self._mmd_detector.n)
        return result
