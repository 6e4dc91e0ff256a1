"""Live model quality on the labelled part of a window: labels from ``/feedback`` joined by request id.

numpy only (the drift image carries no scikit-learn). Classification labels and predictions are compared as
strings, because JSON may carry a class as 1 in one log and "1" in the other. Binary metrics use the
positive class (the signature's second class, else the larger class name, as the binary prediction-drift
test does); with more classes precision, recall and f1 are macro averages and roc_auc is one-vs-rest macro.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mloop.drift.window import Record

__all__ = ["LOWER_IS_BETTER", "evaluate", "metric_value", "roc_auc"]

LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mape"})
REGRESSION = frozenset({"rmse", "mae", "r2", "mape"})


def roc_auc(scores: npt.NDArray[np.float64], positive: npt.NDArray[np.bool_]) -> float | None:
    """Mann-Whitney AUC with average ranks for ties; None when one class is absent."""
    n_pos = int(positive.sum())
    n_neg = int(positive.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(average, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _prf(pred: Sequence[str], truth: Sequence[str], cls: str) -> tuple[float, float, float]:
    tp = sum(1 for p, t in zip(pred, truth, strict=True) if p == cls and t == cls)
    fp = sum(1 for p, t in zip(pred, truth, strict=True) if p == cls and t != cls)
    fn = sum(1 for p, t in zip(pred, truth, strict=True) if p != cls and t == cls)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _regression(metric: str, pred: npt.NDArray[np.float64], truth: npt.NDArray[np.float64]) -> float | None:
    err = pred - truth
    if metric == "rmse":
        return float(np.sqrt(np.mean(err**2)))
    if metric == "mae":
        return float(np.mean(np.abs(err)))
    if metric == "mape":
        nonzero = truth != 0
        return float(np.mean(np.abs(err[nonzero] / truth[nonzero]))) if nonzero.any() else None
    total = float(((truth - truth.mean()) ** 2).sum())
    return 1.0 - float((err**2).sum()) / total if total > 0 else None


def _prob(probabilities: Mapping[str, Any] | None, cls: str) -> float:
    if not probabilities:
        return math.nan
    value = {str(k): v for k, v in probabilities.items()}.get(cls)
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def metric_value(
    metric: str, pairs: Sequence[tuple[Record, Any]], classes: Sequence[str], positive: str | None
) -> float | None:
    """The metric on (request, label) pairs; None when it is undefined for these labels."""
    if metric in REGRESSION:
        values = [(r.prediction, label) for r, label in pairs]
        try:
            pred = np.array([float(p) for p, _ in values])
            truth = np.array([float(t) for _, t in values])
        except (TypeError, ValueError):
            return None
        keep = np.isfinite(pred) & np.isfinite(truth)
        return _regression(metric, pred[keep], truth[keep]) if keep.any() else None
    truth_s = [str(label) for _, label in pairs]
    pred_s = [str(r.prediction) for r, _ in pairs]
    labels = sorted(set(truth_s) | set(pred_s) | set(classes))
    binary = positive is not None and len(set(labels)) <= 2
    if metric == "accuracy":
        return float(np.mean([p == t for p, t in zip(pred_s, truth_s, strict=True)]))
    if metric in ("precision", "recall", "f1"):
        index = ("precision", "recall", "f1").index(metric)
        if binary and positive is not None:
            return _prf(pred_s, truth_s, positive)[index]
        return float(np.mean([_prf(pred_s, truth_s, c)[index] for c in sorted(set(truth_s))]))
    if metric == "log_loss":
        p = np.array([_prob(r.probabilities, t) for (r, _), t in zip(pairs, truth_s, strict=True)])
        if np.isnan(p).any():
            return None
        return float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))
    # roc_auc
    targets = [positive] if binary and positive is not None else sorted(set(truth_s))
    aucs = []
    for cls in targets:
        scores = np.array([_prob(r.probabilities, cls) for r, _ in pairs])
        if np.isnan(scores).any():
            return None
        auc = roc_auc(scores, np.array([t == cls for t in truth_s]))
        if auc is not None:
            aucs.append(auc)
    return float(np.mean(aucs)) if aucs else None


def evaluate(
    records: Sequence[Record],
    labels: Mapping[str, Any],
    check: Mapping[str, Any],
    classes: Sequence[str],
    positive: str | None,
) -> dict[str, Any]:
    """``{metric, value, labels, min, minLabels, passed}``; ``passed`` is None until ``minLabels`` labels
    are joined or when the metric is undefined, so an unlabelled window never reads as a failure."""
    metric = str(check["metric"])
    threshold = float(check["min"])
    min_labels = int(check.get("minLabels", check.get("min_labels", 50)))
    pairs = [
        (r, labels[r.request_id]) for r in records if r.request_id is not None and r.request_id in labels
    ]
    out: dict[str, Any] = {
        "metric": metric,
        "value": None,
        "labels": len(pairs),
        "min": threshold,
        "minLabels": min_labels,
        "passed": None,
    }
    if len(pairs) < min_labels:
        out["note"] = f"{len(pairs)} labelled requests, {min_labels} needed"
        return out
    value = metric_value(metric, pairs, classes, positive)
    out["value"] = value
    if value is None:
        out["note"] = f"{metric} is undefined for these labels"
    else:
        out["passed"] = value <= threshold if metric in LOWER_IS_BETTER else value >= threshold
    return out
