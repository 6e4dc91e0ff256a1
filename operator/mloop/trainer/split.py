"""Stage 4 (Split): train / validation / test by the declared strategy, and the sealed test set.

The plan is row positions only, computed from the data and the seed, so it is a pure function the tests
can check directly (sizes, no group in two sets, the test rows are the latest). ``SealedTestSet`` holds the
test rows and hands them out exactly once: the evaluation stage opens it after the model is chosen, and
anything that tried to peek earlier would fail loudly instead of silently tuning on the test set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mloop.api.data import DataSpec
from mloop.trainer.result import TrainerFailure

__all__ = ["SealedTestSet", "SplitPlan", "TestRows", "plan_split"]


@dataclass(frozen=True)
class SplitPlan:
    """Row positions of each set; disjoint and covering every row."""

    strategy: str
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    seed: int

    def summary(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "seed": self.seed,
            "sizes": {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)},
        }


def plan_split(frame: pd.DataFrame, y: np.ndarray, data: DataSpec, seed: int) -> SplitPlan:
    """Split by ``data.split.strategy``; every set must end up non-empty."""
    split = data.split
    n = len(frame)
    n_test = max(1, math.ceil(n * split.test_fraction))
    n_val = max(1, math.ceil(n * split.validation_fraction))
    if n_test + n_val >= n:
        raise TrainerFailure("TooFewRows", f"{n} rows cannot be split into train, validation and test")
    rng = np.random.default_rng(seed)
    if split.strategy == "random":
        order = rng.permutation(n)
        plan = _cut(order, n_val, n_test)
    elif split.strategy == "stratified":
        plan = _stratified(y, n_val, n_test, rng)
    elif split.strategy == "time":
        plan = _by_time(frame, str(data.time_column), n_val, n_test)
    else:
        plan = _by_group(frame, str(data.group_column), split.validation_fraction, split.test_fraction, rng)
    train, val, test = plan
    if not (len(train) and len(val) and len(test)):
        raise TrainerFailure("SplitFailed", f"{split.strategy} split left an empty set")
    return SplitPlan(split.strategy, np.sort(train), np.sort(val), np.sort(test), seed)


def _cut(order: np.ndarray, n_val: int, n_test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def _stratified(
    y: np.ndarray, n_val: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class, the same shares go to test and validation (largest-remainder rounding per class)."""
    n = len(y)
    parts: list[list[np.ndarray]] = [[], [], []]
    labels = sorted(set(y.tolist()))
    for label in labels:
        idx = rng.permutation(np.flatnonzero(y == label))
        k_test = round(len(idx) * n_test / n)
        k_val = round(len(idx) * n_val / n)
        if len(idx) >= 3:
            k_test, k_val = max(1, k_test), max(1, k_val)
        parts[2].append(idx[:k_test])
        parts[1].append(idx[k_test : k_test + k_val])
        parts[0].append(idx[k_test + k_val :])
    train, val, test = (np.concatenate(p) for p in parts)
    return train, val, test


def _by_time(
    frame: pd.DataFrame, column: str, n_val: int, n_test: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latest rows are the test set, the ones before them validation: the model is judged on its future."""
    if column not in frame.columns:
        raise TrainerFailure("TimeColumnMissing", f"data.timeColumn {column!r} is not in the data")
    times = _sortable_time(frame[column], column)
    order = np.argsort(times, kind="stable")[::-1]  # latest first
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def _sortable_time(series: pd.Series, column: str) -> np.ndarray:
    if series.isna().any():
        raise TrainerFailure("TimeColumnMissing", f"data.timeColumn {column!r} has missing values")
    if pd.api.types.is_numeric_dtype(series):
        return np.asarray(series.to_numpy(dtype=np.float64))
    try:
        parsed = pd.to_datetime(series, utc=True)
    except (ValueError, TypeError) as exc:
        raise TrainerFailure("UnsupportedColumnType", f"data.timeColumn {column!r} is not a time") from exc
    return np.asarray(parsed.astype("int64").to_numpy(dtype=np.float64))


def _by_group(
    frame: pd.DataFrame, column: str, val_frac: float, test_frac: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whole groups go to one set (like GroupShuffleSplit): shuffled groups fill test, then validation."""
    if column not in frame.columns:
        raise TrainerFailure("GroupColumnMissing", f"data.groupColumn {column!r} is not in the data")
    groups = frame[column].astype(str).fillna("").to_numpy()
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(uniq) < 3:
        raise TrainerFailure("SplitFailed", f"group split needs at least 3 groups in {column!r}")
    n = len(groups)
    assign = np.zeros(len(uniq), dtype=np.int8)  # 0 train, 1 validation, 2 test
    filled = {1: 0, 2: 0}
    goal = {2: test_frac * n, 1: val_frac * n}
    for g in rng.permutation(len(uniq)):
        for target in (2, 1):
            if filled[target] < goal[target]:
                assign[g] = target
                filled[target] += int(counts[g])
                break
    if not (assign == 0).any():
        assign[int(np.flatnonzero(assign == 1)[-1])] = 0
    row_set = assign[inverse]
    return np.flatnonzero(row_set == 0), np.flatnonzero(row_set == 1), np.flatnonzero(row_set == 2)


@dataclass(frozen=True)
class TestRows:
    """The test rows: raw columns (for slices and fairness), model inputs and labels."""

    __test__ = False  # not a pytest class, despite the name

    raw: pd.DataFrame
    x: pd.DataFrame
    y: np.ndarray


@dataclass
class SealedTestSet:
    """The test rows, handed out once: ``open()`` a second time is a bug and raises."""

    _rows: TestRows
    _opened: bool = field(default=False)

    @property
    def size(self) -> int:
        return len(self._rows.y)

    def open(self) -> TestRows:
        if self._opened:
            raise RuntimeError("the sealed test set was already opened; it is used exactly once")
        self._opened = True
        return self._rows
