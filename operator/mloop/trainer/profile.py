"""Stage 2 (DataValidated): choose features, profile the data and enforce the project's quality rules.

Also fixes how the model sees each column, once, for training, evaluation, export and serving alike:
numeric features are float32 values (the ONNX graph's input type, so sklearn trains on exactly what the
server will feed), categorical features are strings with missing values as the empty string (ONNX string
tensors have no null; the Pipeline's imputer maps "" to a "__missing__" category).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mloop.api.data import DataSpec
from mloop.api.mlproject import Problem
from mloop.trainer.result import TrainerFailure

__all__ = [
    "MISSING_CATEGORY",
    "FeatureSet",
    "Target",
    "check_quality",
    "prepare_target",
    "profile_frame",
    "select_features",
    "to_model_frame",
]

MISSING_CATEGORY = ""
_TOP = 5


@dataclass(frozen=True)
class FeatureSet:
    """The model's input columns in data order, each numeric or categorical."""

    columns: tuple[str, ...]
    categorical: frozenset[str]

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.columns if c not in self.categorical]

    @property
    def categoricals(self) -> list[str]:
        return [c for c in self.columns if c in self.categorical]

    def kind(self, column: str) -> str:
        return "categorical" if column in self.categorical else "numeric"

    def without(self, dropped: set[str]) -> FeatureSet:
        return FeatureSet(tuple(c for c in self.columns if c not in dropped), self.categorical - dropped)


@dataclass(frozen=True)
class Target:
    """The label column as an array; ``classes`` in the model's output order (sorted) for classifiers."""

    y: np.ndarray
    classes: list[Any]
    positive: Any | None


def select_features(frame: pd.DataFrame, data: DataSpec, target: str) -> FeatureSet:
    """Apply include/exclude and the numeric/categorical overrides; refuse columns we cannot encode.

    The time and group columns are never features: the time column would let a model learn the split and
    the group id is an identifier by construction.
    """
    sel = data.features
    include = list(sel.include) if sel and sel.include else list(frame.columns)
    missing = [c for c in include if c not in frame.columns]
    if missing:
        raise TrainerFailure("FeatureMissing", f"data.features.include names absent columns: {missing}")
    skip = {target, data.time_column, data.group_column, *(sel.exclude if sel else [])}
    force_cat = set(sel.categorical) if sel else set()
    force_num = set(sel.numeric) if sel else set()
    columns, categorical = [], set()
    for col in frame.columns:
        if col not in include or col in skip:
            continue
        kind = _kind(frame[col], col, force_cat, force_num)
        columns.append(str(col))
        if kind == "categorical":
            categorical.add(str(col))
    if not columns:
        raise TrainerFailure("NoFeatures", "no feature columns are left after include/exclude")
    return FeatureSet(tuple(columns), frozenset(categorical))


def _kind(series: pd.Series, col: str, force_cat: set[str], force_num: set[str]) -> str:
    unsupported = _unsupported(series)
    if unsupported:
        raise TrainerFailure(
            "UnsupportedColumnType",
            f"column {col!r} holds {unsupported} values; exclude it with data.features.exclude",
        )
    if col in force_cat:
        return "categorical"
    if col in force_num:
        converted = pd.to_numeric(series, errors="coerce")
        if converted.isna().sum() > series.isna().sum():
            raise TrainerFailure("UnsupportedColumnType", f"column {col!r} is declared numeric but is not")
        return "numeric"
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return "numeric"
    return "categorical"


def _unsupported(series: pd.Series) -> str | None:
    """Nested, binary, date and complex values have no meaning to an imputer, a scaler or a one-hot."""
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        return "date/time"
    if pd.api.types.is_complex_dtype(series):
        return "complex"
    if series.dtype == object:
        for value in series.dropna().head(1000):
            if isinstance(value, bytes | bytearray):
                return "binary"
            if isinstance(value, list | dict | tuple | set | np.ndarray):
                return "nested"
    return None


def to_model_frame(frame: pd.DataFrame, features: FeatureSet) -> pd.DataFrame:
    """The feature columns exactly as the model (sklearn and ONNX alike) sees them."""
    out: dict[str, Any] = {}
    for col in features.columns:
        series = frame[col]
        if col in features.categorical:
            out[col] = pd.Series([_as_category(v) for v in series], index=frame.index, dtype=object)
        else:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            out[col] = values.astype(np.float32).astype(np.float64)
    return pd.DataFrame(out, index=frame.index)


def _as_category(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return MISSING_CATEGORY
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def prepare_target(frame: pd.DataFrame, problem: Problem) -> Target:
    """The label as an array, checked against the declared task before any model sees it."""
    name = problem.target
    if name not in frame.columns:
        raise TrainerFailure("TargetMissing", f"target column {name!r} is not in the data")
    series = frame[name]
    unlabeled = int(series.isna().sum())
    if unlabeled:
        raise TrainerFailure(
            "TargetMissing", f"target column {name!r} has {unlabeled} rows without a label; drop or fill them"
        )
    if problem.task == "regression":
        y = pd.to_numeric(series, errors="coerce")
        if y.isna().any() or pd.api.types.is_bool_dtype(series):
            raise TrainerFailure("TaskMismatch", f"regression target {name!r} is not numeric")
        return Target(y.to_numpy(dtype=np.float64), [], None)
    y_arr = _labels(series)
    classes = sorted(set(y_arr.tolist()))
    if len(classes) < 2:
        raise TrainerFailure("SingleClassTarget", f"target {name!r} has one class only: {classes}")
    if problem.task == "binary-classification" and len(classes) > 2:
        raise TrainerFailure("TaskMismatch", f"binary-classification but {name!r} has {len(classes)} classes")
    if problem.task == "multiclass-classification" and len(classes) == 2:
        raise TrainerFailure("TaskMismatch", f"multiclass-classification but {name!r} has 2 classes")
    positive = None
    if problem.task == "binary-classification":
        positive = classes[-1]
        if problem.positive_class is not None:
            match = [c for c in classes if str(c) == str(problem.positive_class)]
            if not match:
                raise TrainerFailure(
                    "TaskMismatch", f"positiveClass {problem.positive_class!r} is not a label of {name!r}"
                )
            positive = match[0]
    return Target(y_arr, classes, positive)


def _labels(series: pd.Series) -> np.ndarray:
    """Integer labels stay integers (ONNX int64 label output), everything else becomes strings."""
    if pd.api.types.is_bool_dtype(series):
        return np.asarray(series.astype(np.int64).to_numpy())
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64)
        if np.all(np.mod(values, 1) == 0):
            return np.asarray(values.astype(np.int64))
    return np.array([str(v) for v in series], dtype=object)


def profile_frame(frame: pd.DataFrame, columns: list[str]) -> dict[str, Any]:
    """Per column: dtype, missing rate, distinct count, constant flag, distribution; duplicate rows."""
    cols: dict[str, Any] = {}
    for col in columns:
        series = frame[col]
        non_null = series.dropna()
        entry: dict[str, Any] = {
            "dtype": str(series.dtype),
            "missingFraction": float(series.isna().mean()) if len(series) else 0.0,
            "distinct": int(non_null.nunique()),
            "constant": bool(non_null.nunique() <= 1),
        }
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) and len(non_null):
            values = non_null.astype(np.float64)
            q = values.quantile([0.05, 0.25, 0.5, 0.75, 0.95]).tolist()
            entry.update(
                min=float(values.min()),
                max=float(values.max()),
                mean=float(values.mean()),
                std=float(values.std(ddof=0)),
                quantiles={"p05": q[0], "p25": q[1], "p50": q[2], "p75": q[3], "p95": q[4]},
            )
        else:
            top = non_null.astype(str).value_counts().head(_TOP)
            entry["topCategories"] = [{"value": str(k), "count": int(v)} for k, v in top.items()]
        cols[col] = entry
    duplicates = float(frame[columns].duplicated().mean()) if len(frame) else 0.0
    return {"rows": len(frame), "duplicateFraction": duplicates, "columns": cols}


def check_quality(profile: dict[str, Any], data: DataSpec) -> None:
    """Fail on the first broken rule; a failure here is final for this data digest (SPEC §1)."""
    rules = data.quality
    rows = int(profile["rows"])
    if rows < rules.min_rows:
        raise TrainerFailure("TooFewRows", f"{rows} rows loaded; data.quality.minRows is {rules.min_rows}")
    worst = max(profile["columns"].items(), key=lambda kv: kv[1]["missingFraction"], default=None)
    if worst is not None and worst[1]["missingFraction"] > rules.max_missing_fraction:
        raise TrainerFailure(
            "TooManyMissing",
            f"column {worst[0]!r} is {worst[1]['missingFraction']:.1%} missing; "
            f"data.quality.maxMissingFraction is {rules.max_missing_fraction:.1%}",
        )
    dup = float(profile["duplicateFraction"])
    if dup > rules.max_duplicate_fraction:
        raise TrainerFailure(
            "TooManyDuplicates",
            f"{dup:.1%} of rows are exact duplicates; "
            f"data.quality.maxDuplicateFraction is {rules.max_duplicate_fraction:.1%}",
        )
