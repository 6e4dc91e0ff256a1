"""The one interface both backends implement, and the plain records they return.

A detector is fitted once on the reference sample and then tests any number of windows, so whatever can be
prepared from the reference alone (sorted values, category counts, the reference kernel block) is prepared
in ``fit`` and reused: a DriftMonitor checks the same reference every few minutes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "BACKENDS",
    "MISSING_CATEGORY",
    "BackendUnavailable",
    "Columns",
    "Detector",
    "FeatureSpec",
    "Kind",
    "MmdSettings",
    "TestResult",
    "make_detector",
    "split_kinds",
]

Kind = Literal["numeric", "categorical"]
#: Feature name -> values: float64 with NaN for numeric features, str objects for categorical ones.
Columns = Mapping[str, npt.NDArray[np.generic]]
BACKENDS = ("native", "alibi-detect")
#: The category a missing categorical value is counted as (the serving signature's missing value).
MISSING_CATEGORY = ""


class BackendUnavailable(RuntimeError):
    """The requested backend is not installed (alibi-detect is an optional extra)."""


@dataclass(frozen=True)
class FeatureSpec:
    """A feature and how it is tested: numeric -> KS, categorical -> chi-square."""

    name: str
    kind: Kind


@dataclass(frozen=True)
class MmdSettings:
    """The optional multivariate test on the numeric features (standardised by the reference)."""

    permutations: int = 1000
    max_reference: int = 2000
    max_window: int = 2000
    seed: int = 0


@dataclass
class TestResult:
    """One test's outcome before correction. ``statistic``/``p_value`` are None when the test could not
    run (no values in the window, backend unavailable); ``note`` then says why."""

    name: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    n_reference: int
    n_window: int
    unseen: list[str] = field(default_factory=list)
    note: str | None = None


class Detector(Protocol):
    """``fit(reference)`` once, then ``test(window)`` per window; results in feature order (MMD last)."""

    backend: str

    def fit(self, reference: Columns) -> None: ...

    def test(self, window: Columns) -> list[TestResult]: ...


def make_detector(backend: str, features: Sequence[FeatureSpec], mmd: MmdSettings | None = None) -> Detector:
    """The detector for a backend name; ``alibi-detect`` is imported only here and only when asked for."""
    if backend == "native":
        from mloop.drift.native import NativeDetector  # noqa: PLC0415 - keep scipy out of light imports

        return NativeDetector(features, mmd)
    if backend == "alibi-detect":
        from mloop.drift.alibi import AlibiDetector  # noqa: PLC0415 - BSL code only on request

        detector: Detector = AlibiDetector(features, mmd)
        return detector
    raise ValueError(f"unknown drift backend {backend!r}: expected one of {', '.join(BACKENDS)}")


def split_kinds(features: Sequence[FeatureSpec]) -> tuple[list[str], list[str]]:
    """Numeric and categorical feature names, each in the given order."""
    numeric = [f.name for f in features if f.kind == "numeric"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    return numeric, categorical
