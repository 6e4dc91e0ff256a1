"""Stage 3 (LeakageAudited): drop forbidden columns and flag features that would make the model look
better on paper than it will ever be in production.

Every check runs on TRAINING rows only, so the audit itself cannot leak test information into decisions.
Findings use ``LeakageFinding``'s vocabulary (``check``: forbidden, single-feature-auc, correlation,
identifier, time-order; ``action``: dropped, failed, allowed) so the operator copies them as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mloop.api.data import DataSpec
from mloop.trainer.profile import FeatureSet
from mloop.trainer.result import TrainerFailure

__all__ = ["AUC_LIMIT", "CORRELATION_LIMIT", "Audit", "audit_leakage", "leak_failure"]

AUC_LIMIT = 0.98
CORRELATION_LIMIT = 0.98
IDENTIFIER_DISTINCT = 0.95
_ID_NAME = re.compile(r"(^id$|_id$|^id_|uuid|guid|_key$)", re.IGNORECASE)
_FOLDS = 5
_BINS = 50
_MAX_ROWS = 20_000
_MIN_ROWS = 20


@dataclass(frozen=True)
class Audit:
    """The findings and the feature set that survives them (forbidden columns removed)."""

    findings: list[dict[str, Any]]
    features: FeatureSet

    @property
    def failing(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["action"] == "failed"]


def audit_leakage(
    train: pd.DataFrame,
    y_train: np.ndarray,
    features: FeatureSet,
    *,
    task: str,
    data: DataSpec,
    seed: int,
    holdout_times: pd.Series | None = None,
) -> Audit:
    """Run every check; ``holdout_times`` are the validation and test rows' times for time splits."""
    findings: list[dict[str, Any]] = []
    forbidden = set(data.forbidden_columns) & set(features.columns)
    for col in sorted(forbidden):
        findings.append(_finding(col, "forbidden", None, "dropped", "listed in data.forbiddenColumns"))
    kept = features.without(forbidden)
    if len(train) > _MAX_ROWS:
        pick = np.random.default_rng(seed).choice(len(train), _MAX_ROWS, replace=False)
        train, y_train = train.iloc[np.sort(pick)], y_train[np.sort(pick)]
    allowed = set(data.allowed_leaky_columns)
    for col in kept.columns:
        action = "allowed" if data.allow_leaky_features or col in allowed else "failed"
        hit = _identifier(train[col], col, kept.kind(col))
        if hit:
            findings.append(_finding(col, "identifier", hit[0], action, hit[1]))
            continue
        if len(train) < _MIN_ROWS:  # too few rows for a score to mean anything
            continue
        check, score = _predictiveness(train[col], y_train, kept.kind(col), task, seed)
        limit = CORRELATION_LIMIT if check == "correlation" else AUC_LIMIT
        if score is not None and score >= limit:
            what = "single-feature ROC AUC" if check == "single-feature-auc" else "|correlation|"
            detail = f"{what} {score:.4f} >= {limit} on training rows: it nearly predicts the target alone"
            findings.append(_finding(col, check, score, action, detail))
    if holdout_times is not None and data.time_column:
        findings.extend(_time_order(train[data.time_column], holdout_times, data.time_column))
    return Audit(findings, kept)


def leak_failure(audit: Audit) -> TrainerFailure:
    """The run-failing message names every flagged column with its check and score."""
    parts = []
    for f in audit.failing:
        score = "" if f["score"] is None else f" {f['score']:.4f}"
        parts.append(f"{f['column']} ({f['check']}{score})")
    return TrainerFailure(
        "LeakageSuspected",
        "suspected leakage: "
        + ", ".join(parts)
        + "; drop the column, list it in data.forbiddenColumns, or allow it in data.allowedLeakyColumns",
    )


def _finding(column: str, check: str, score: float | None, action: str, detail: str) -> dict[str, Any]:
    return {
        "column": column,
        "check": check,
        "reason": check,
        "score": None if score is None else round(float(score), 6),
        "action": action,
        "detail": detail,
    }


def _identifier(series: pd.Series, col: str, kind: str) -> tuple[float, str] | None:
    """Near-unique values that are not a continuous measurement: row ids, emails, order numbers."""
    values = series.dropna()
    if len(values) < 20:
        return None
    ratio = float(values.nunique() / len(values))
    if ratio < IDENTIFIER_DISTINCT:
        return None
    numeric = kind == "numeric"
    integral = numeric and bool(np.all(np.mod(pd.to_numeric(values, errors="coerce").fillna(0), 1) == 0))
    if not numeric:
        return ratio, f"{ratio:.1%} of training values are distinct: looks like an identifier"
    if integral and _ID_NAME.search(col):
        return ratio, f"named like an id and {ratio:.1%} of training values are distinct"
    return None


def _predictiveness(
    series: pd.Series, y: np.ndarray, kind: str, task: str, seed: int
) -> tuple[str, float | None]:
    """Classification: single-feature ROC AUC (raw values, and out-of-fold target-rate encoding so
    categories and non-monotone numerics count too). Regression: the larger of |Pearson| and |Spearman|."""
    if task == "regression":
        encoded = (
            _oof_encode(_bins(series, kind), y.astype(np.float64)[:, None], seed)[:, 0]
            if kind == "categorical"
            else pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        )
        return "correlation", _correlation(encoded, y.astype(np.float64))
    classes = sorted(set(y.tolist()))
    onehot = (y[:, None] == np.array(classes, dtype=object)[None, :]).astype(np.float64)
    scores: list[float] = []
    encoded = _oof_encode(_bins(series, kind), onehot, seed)
    scores.append(_auc(y, encoded, classes))
    if kind == "numeric" and len(classes) == 2:
        raw = pd.to_numeric(series, errors="coerce")
        raw = raw.fillna(raw.median()).to_numpy(dtype=np.float64)
        auc = _auc(y, np.column_stack([-raw, raw]), classes)
        scores.append(max(auc, 1 - auc))
    valid = [s for s in scores if np.isfinite(s)]
    return "single-feature-auc", max(valid) if valid else None


def _bins(series: pd.Series, kind: str) -> np.ndarray:
    """Category codes, or quantile-bin codes for numerics (missing is its own code)."""
    if kind == "categorical":
        return np.asarray(pd.Series(series.astype(str).where(series.notna(), "\x00")).factorize()[0])
    values = pd.to_numeric(series, errors="coerce")
    if values.nunique() <= _BINS:
        codes = values.factorize()[0]
    else:
        codes = pd.qcut(values.rank(method="first"), _BINS, labels=False).to_numpy(dtype=np.float64)
        codes = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    return np.asarray(codes, dtype=np.int64)


def _oof_encode(codes: np.ndarray, targets: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold smoothed target means per code, fitted on training rows only: a rare category cannot
    score itself, so a genuine feature with many small categories is not mistaken for a leak."""
    n = len(codes)
    out = np.zeros_like(targets, dtype=np.float64)
    folds = np.random.default_rng(seed).permutation(n) % _FOLDS
    prior = targets.mean(axis=0)
    for k in range(_FOLDS):
        fit, apply = folds != k, folds == k
        if not apply.any() or not fit.any():
            continue
        frame = pd.DataFrame(targets[fit]).assign(code=codes[fit])
        sums = frame.groupby("code").sum()
        counts = frame.groupby("code").size().to_numpy()[:, None]
        means = (sums.to_numpy() + prior * 1.0) / (counts + 1.0)
        table = dict(zip(sums.index.tolist(), means, strict=True))
        out[apply] = np.array([table.get(c, prior) for c in codes[apply]])
    return out


def _auc(y: np.ndarray, scores: np.ndarray, classes: list[Any]) -> float:
    try:
        if len(classes) == 2:
            return float(roc_auc_score(y == classes[1], scores[:, 1]))
        proba = scores / np.clip(scores.sum(axis=1, keepdims=True), 1e-12, None)
        return float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=classes))
    except ValueError:
        return float("nan")


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    mask = np.isfinite(x)
    if mask.sum() < 3 or np.std(x[mask]) == 0 or np.std(y[mask]) == 0:
        return None
    pearson = abs(float(np.corrcoef(x[mask], y[mask])[0, 1]))
    xr = pd.Series(x[mask]).rank().to_numpy()
    yr = pd.Series(y[mask]).rank().to_numpy()
    spearman = abs(float(np.corrcoef(xr, yr)[0, 1]))
    return max(pearson, spearman)


def _time_order(train_times: pd.Series, holdout_times: pd.Series, column: str) -> list[dict[str, Any]]:
    """A training row later than a validation or test row means the model was trained on its future."""
    t_train = pd.to_datetime(train_times, utc=True) if not _numeric(train_times) else train_times
    t_hold = pd.to_datetime(holdout_times, utc=True) if not _numeric(holdout_times) else holdout_times
    earliest = t_hold.min()
    later = float((t_train > earliest).mean())
    if later <= 0:
        return []
    detail = f"{later:.1%} of training rows are later than the earliest validation/test row"
    return [_finding(column, "time-order", later, "failed", detail)]


def _numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series))
