"""Task metrics, shared by the search (validation), the evaluation (test, slices, fairness) and the
champion re-scoring, so every number in a result is computed the same way.

Predictions are always derived from probabilities (label = the most probable class) so that a model
scored from its ONNX outputs and one scored in sklearn cannot disagree on method, only on numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "CLASSIFICATION",
    "LOWER_IS_BETTER",
    "REGRESSION",
    "classification_metrics",
    "improvement",
    "predicted_labels",
    "rank_key",
    "regression_metrics",
    "task_metrics",
]

CLASSIFICATION = ("roc_auc", "f1", "precision", "recall", "accuracy", "log_loss")
REGRESSION = ("rmse", "mae", "r2", "mape")
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mape"})


def task_metrics(
    task: str, y: np.ndarray, output: np.ndarray, classes: list[Any], positive: Any | None
) -> dict[str, float]:
    """Every metric of the task; ``output`` is class probabilities (classification) or values."""
    if task == "regression":
        return regression_metrics(y, output)
    return classification_metrics(y, output, classes, positive)


def classification_metrics(
    y: np.ndarray, proba: np.ndarray, classes: list[Any], positive: Any | None
) -> dict[str, float]:
    """roc_auc (one-vs-rest macro for multiclass), f1/precision/recall (of the positive class for binary,
    macro for multiclass), accuracy and log_loss. A metric undefined on these rows (a class absent, so no
    ROC curve) is left out rather than reported as a made-up number."""
    out: dict[str, float] = {}
    if len(y) == 0:
        return out
    pred_obj = predicted_labels(proba, classes)
    y_obj = np.asarray(y)
    binary = len(classes) == 2
    avg: dict[str, Any] = {"average": "binary", "pos_label": positive} if binary else {"average": "macro"}
    out["accuracy"] = float(skm.accuracy_score(y_obj, pred_obj))
    for name, fn in (("f1", skm.f1_score), ("precision", skm.precision_score), ("recall", skm.recall_score)):
        out[name] = float(
            fn(y_obj, pred_obj, labels=list(classes) if not binary else None, zero_division=0, **avg)
        )
    clipped = np.clip(proba, 1e-15, 1.0)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    out["log_loss"] = float(skm.log_loss(y_obj, clipped, labels=list(classes)))
    try:
        if binary:
            truth = y_obj == positive
            if truth.all() or not truth.any():  # one class only: no ROC curve exists
                raise ValueError("one class")  # noqa: TRY301 - shares the undefined-metric exit below
            pos_col = list(classes).index(positive)
            out["roc_auc"] = float(skm.roc_auc_score(truth, proba[:, pos_col]))
        else:
            if len(set(np.asarray(y).tolist())) < len(classes):
                raise ValueError("a class is absent")  # noqa: TRY301 - same exit
            out["roc_auc"] = float(
                skm.roc_auc_score(y_obj, clipped, multi_class="ovr", average="macro", labels=list(classes))
            )
    except ValueError:
        pass
    return {k: v for k, v in out.items() if math.isfinite(v)}


def predicted_labels(proba: np.ndarray, classes: list[Any]) -> np.ndarray:
    """The most probable class per row, as an array sklearn's metrics accept (ints stay ints: an object
    array of ints is an "unknown" target type to sklearn)."""
    labels = np.asarray(classes) if all(isinstance(c, int | np.integer) for c in classes) else None
    if labels is None:
        labels = np.asarray(classes, dtype=object)
    return np.asarray(labels[np.argmax(proba, axis=1)])


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """rmse, mae, r2 and mape (sklearn's definition: a fraction, not a percentage)."""
    if len(y) == 0:
        return {}
    y_f = np.asarray(y, dtype=np.float64)
    p_f = np.asarray(pred, dtype=np.float64).ravel()
    out = {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_f, p_f))),
        "mae": float(skm.mean_absolute_error(y_f, p_f)),
        "mape": float(skm.mean_absolute_percentage_error(y_f, p_f)),
    }
    if len(y_f) > 1:
        out["r2"] = float(skm.r2_score(y_f, p_f))
    return {k: v for k, v in out.items() if math.isfinite(v)}


def rank_key(metrics: dict[str, float], metric: str) -> float:
    """Larger is better whatever the metric: lower-is-better metrics are negated; a missing value is worst."""
    value = metrics.get(metric)
    if value is None or not math.isfinite(value):
        return -math.inf
    return -value if metric in LOWER_IS_BETTER else value


def improvement(metric: str, value: float | None, reference: float | None) -> float | None:
    """How much better ``value`` is than ``reference`` (positive is better), in the metric's units."""
    if value is None or reference is None:
        return None
    return reference - value if metric in LOWER_IS_BETTER else value - reference
