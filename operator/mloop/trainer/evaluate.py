"""Stage 6 (Evaluated): the winner and the baseline (and the champion, if given) on the sealed test set.

Everything here is a plain function of test labels, model outputs and the raw test rows, so slices,
fairness gaps and calibration are testable without training anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from mloop.trainer.metrics import LOWER_IS_BETTER, predicted_labels, task_metrics

__all__ = [
    "calibration",
    "confusion",
    "fairness",
    "slice_metrics",
    "worst_predictions",
]

_MAX_SLICE_VALUES = 50
_CONTINUOUS_DISTINCT = 20
_WORST = 20


def _slice_values(series: pd.Series) -> pd.Series:
    """Slice keys as strings: continuous numerics in quintile ranges, everything else per value."""
    if pd.api.types.is_numeric_dtype(series) and series.nunique() > _CONTINUOUS_DISTINCT:
        binned = pd.qcut(series, 5, duplicates="drop")
        return binned.astype(str).where(series.notna(), "<missing>")
    return series.map(lambda v: "<missing>" if pd.isna(v) else str(v))


def slice_metrics(
    raw: pd.DataFrame,
    y: np.ndarray,
    output: np.ndarray,
    *,
    columns: list[str],
    task: str,
    classes: list[Any],
    positive: Any | None,
    primary: str,
    min_rows: int,
) -> list[dict[str, Any]]:
    """Metrics per value of each slice column on the test rows, with the gap below the overall primary
    metric (positive = worse). Slices with fewer than ``min_rows`` rows are reported with ``gated: false``:
    a gap measured on a handful of rows is noise, not a reason to reject a model."""
    overall = task_metrics(task, y, output, classes, positive).get(primary)
    out: list[dict[str, Any]] = []
    for column in columns:
        if column not in raw.columns:
            continue
        keys = _slice_values(raw[column]).to_numpy()
        counts = pd.Series(keys).value_counts()
        for value in sorted(counts.index[:_MAX_SLICE_VALUES].tolist(), key=str):
            mask = keys == value
            m = task_metrics(task, y[mask], output[mask], classes, positive)
            val = m.get(primary)
            gap = None
            if val is not None and overall is not None:
                gap = val - overall if primary in LOWER_IS_BETTER else overall - val
            out.append(
                {
                    "column": column,
                    "value": str(value)[:256],
                    "rows": int(mask.sum()),
                    "metrics": m,
                    "gap": gap,
                    "gated": bool(mask.sum() >= min_rows),
                }
            )
    return out


def fairness(
    raw: pd.DataFrame,
    y: np.ndarray,
    output: np.ndarray,
    *,
    columns: list[str],
    task: str,
    classes: list[Any],
    positive: Any | None,
    primary: str,
) -> dict[str, Any]:
    """Per sensitive feature: the primary metric by group and its largest spread; for classifiers also
    the selection rate (share predicted positive, binary) and the demographic-parity difference."""
    out: dict[str, Any] = {}
    for column in columns:
        if column not in raw.columns:
            continue
        keys = _slice_values(raw[column]).to_numpy()
        groups = []
        for value in sorted(set(keys.tolist()), key=str)[:_MAX_SLICE_VALUES]:
            mask = keys == value
            entry: dict[str, Any] = {
                "value": str(value),
                "rows": int(mask.sum()),
                "metric": task_metrics(task, y[mask], output[mask], classes, positive).get(primary),
            }
            if task == "binary-classification":
                pred = predicted_labels(output[mask], classes)
                entry["selectionRate"] = float(np.mean(pred == positive)) if mask.any() else None
            groups.append(entry)
        values = [g["metric"] for g in groups if g["metric"] is not None]
        rates = [g["selectionRate"] for g in groups if g.get("selectionRate") is not None]
        out[column] = {
            "metric": primary,
            "groups": groups,
            "maxGap": float(max(values) - min(values)) if values else None,
            "demographicParityDifference": float(max(rates) - min(rates)) if rates else None,
        }
    return out


def confusion(y: np.ndarray, proba: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    """Rows are true classes, columns predicted classes, both in ``labels`` order."""
    matrix = confusion_matrix(np.asarray(y), predicted_labels(proba, classes), labels=list(classes))
    return {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}


def calibration(
    y: np.ndarray, proba: np.ndarray, classes: list[Any], positive: Any | None, bins: int = 10
) -> dict[str, Any]:
    """Reliability bins (mean predicted vs observed rate) and the Brier score. Binary: the positive
    class's probability; multiclass: the top-class confidence against whether the top class was right."""
    if len(classes) == 2:
        p = proba[:, list(classes).index(positive)]
        hit = (np.asarray(y) == positive).astype(np.float64)
        kind = "positive-class"
    else:
        p = proba.max(axis=1)
        hit = (predicted_labels(proba, classes) == np.asarray(y)).astype(np.float64)
        kind = "top-class"
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            table.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "meanPredicted": float(p[mask].mean()),
                    "observedRate": float(hit[mask].mean()),
                    "count": int(mask.sum()),
                }
            )
    return {"kind": kind, "bins": table, "brier": float(np.mean((p - hit) ** 2))}


def worst_predictions(
    raw: pd.DataFrame,
    x: pd.DataFrame,
    y: np.ndarray,
    output: np.ndarray,
    *,
    task: str,
    classes: list[Any],
    limit: int = _WORST,
) -> list[dict[str, Any]]:
    """The test rows with the largest loss (log loss of the true class, or absolute error), with the
    features the model saw: where to start reading when a metric disappoints."""
    if task == "regression":
        loss = np.abs(np.asarray(y, dtype=np.float64) - output)
        predicted: list[Any] = output.tolist()
    else:
        index = {c: i for i, c in enumerate(classes)}
        p_true = output[np.arange(len(y)), [index[v] for v in y]]
        loss = -np.log(np.clip(p_true, 1e-15, 1.0))
        predicted = [classes[i] for i in np.argmax(output, axis=1)]
    order = np.argsort(-loss, kind="stable")[:limit]
    rows = []
    for i in order:
        features = {c: _plain(x.iloc[i][c]) for c in x.columns}
        rows.append(
            {
                "row": int(raw.index[i]),
                "actual": _plain(y[i]),
                "predicted": _plain(predicted[i]),
                "loss": float(loss[i]),
                "features": features,
            }
        )
    return rows


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
