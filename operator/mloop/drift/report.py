"""The check's outputs: ``report.json`` (the contract with the operator), ``drift.png`` and the Job's
termination message.

The report holds no wall-clock time, so rerunning a check on the same data writes the same bytes (outputs
are write-once; identical bytes count as written). The termination message is the summary in at most 4096
bytes, because Kubernetes truncates longer messages into invalid JSON: detail is dropped in a fixed order
and the result is always one parseable object.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mloop.drift.detector import Columns, FeatureSpec

__all__ = ["TERMINATION_LIMIT", "json_safe", "plot_png", "termination_message", "to_json"]

TERMINATION_LIMIT = 4096
PLOT_FEATURES = 6
PLOT_CATEGORIES = 12


def json_safe(value: Any) -> Any:
    """Plain JSON types: numpy scalars become Python numbers, NaN/Inf become None (JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)
    return json_safe(item()) if callable(item) else str(value)


def to_json(report: Mapping[str, Any]) -> bytes:
    return (json.dumps(json_safe(report), indent=2, ensure_ascii=False) + "\n").encode()


def _short(value: Any) -> Any:
    """Six significant digits: enough for a status field, a third of the bytes."""
    return float(f"{value:.6g}") if isinstance(value, float) and math.isfinite(value) else value


def termination_message(report: Mapping[str, Any], limit: int = TERMINATION_LIMIT) -> str:
    """Compact JSON of at most ``limit`` bytes. Kept to the end: status, drifted, insufficientData, samples,
    window and the report URI; dropped first: p-values of undrifted features, then drifted features from
    the least significant, then notes and the failure message's tail."""
    features = [f for f in report.get("features") or [] if isinstance(f, Mapping)]
    drifted = sorted((f for f in features if f.get("drifted")), key=lambda f: f.get("pValue") or 0.0)
    prediction = report.get("predictionDrift")
    performance = report.get("performance")
    summary: dict[str, Any] = {
        "status": report.get("status", "succeeded"),
        "reason": report.get("reason"),
        "message": report.get("message"),
        "drifted": report.get("drifted"),
        "insufficientData": report.get("insufficientData"),
        "samples": report.get("samples"),
        "window": report.get("window"),
        "reportUri": report.get("reportUri"),
        "plotUri": report.get("plot"),
        "driftedFeatureCount": len(drifted),
        "driftedFeatures": [
            {k: _short(f.get(k)) for k in ("name", "test", "statistic", "pValue", "pValueCorrected")}
            for f in drifted
        ],
        "pValues": {str(f.get("name")): _short(f.get("pValue")) for f in features},
        "predictionDrift": {k: _short(prediction.get(k)) for k in ("test", "statistic", "pValue", "drifted")}
        if isinstance(prediction, Mapping)
        else None,
        "multivariate": {k: _short(v) for k, v in report["multivariate"].items() if k != "note"}
        if isinstance(report.get("multivariate"), Mapping)
        else None,
        "performance": {k: _short(performance.get(k)) for k in ("metric", "value", "labels", "passed")}
        if isinstance(performance, Mapping)
        else None,
        "notes": list(report.get("notes") or []),
    }
    summary = {k: v for k, v in json_safe(summary).items() if v is not None}

    def encoded() -> str:
        return json.dumps(summary, separators=(",", ":"), ensure_ascii=False)

    undrifted = [n for n in summary.get("pValues", {}) if n not in {f["name"] for f in drifted}]
    while len(encoded().encode()) > limit and undrifted:
        summary["pValues"].pop(undrifted.pop())
    while len(encoded().encode()) > limit and summary.get("driftedFeatures"):
        gone = summary["driftedFeatures"].pop()
        summary.get("pValues", {}).pop(gone["name"], None)
    for key in ("notes", "pValues", "multivariate", "plotUri", "performance", "predictionDrift"):
        if len(encoded().encode()) <= limit:
            break
        summary.pop(key, None)
    while len(encoded().encode()) > limit and len(str(summary.get("message") or "")) > 16:
        summary["message"] = str(summary["message"])[: len(str(summary["message"])) // 2] + "..."
    text = encoded()
    if len(text.encode()) > limit:  # a pathological window or URI: keep only what the operator must have
        keep = ("status", "reason", "drifted", "insufficientData")
        text = json.dumps({k: summary.get(k) for k in keep}, separators=(",", ":"))
    return text


def _numeric_panel(ax: Any, ref: npt.NDArray[np.float64], win: npt.NDArray[np.float64]) -> None:
    ref, win = ref[~np.isnan(ref)], win[~np.isnan(win)]
    both = np.concatenate((ref, win))
    if both.size == 0:
        return
    lo, hi = np.percentile(both, [0.5, 99.5])
    if not hi > lo:
        lo, hi = float(both.min()) - 0.5, float(both.max()) + 0.5
    bins = np.linspace(lo, hi, 31)
    ax.hist(np.clip(ref, lo, hi), bins=bins, density=True, alpha=0.5, label="reference", color="tab:blue")
    ax.hist(np.clip(win, lo, hi), bins=bins, density=True, alpha=0.5, label="window", color="tab:orange")


def _categorical_panel(ax: Any, ref: npt.NDArray[np.generic], win: npt.NDArray[np.generic]) -> None:
    cats_ref, n_ref = np.unique(ref.astype(str), return_counts=True)
    cats_win, n_win = np.unique(win.astype(str), return_counts=True)
    p_ref = dict(zip(cats_ref.tolist(), (n_ref / max(1, n_ref.sum())).tolist(), strict=True))
    p_win = dict(zip(cats_win.tolist(), (n_win / max(1, n_win.sum())).tolist(), strict=True))
    cats = sorted(set(p_ref) | set(p_win), key=lambda c: (-(p_ref.get(c, 0) + p_win.get(c, 0)), c))
    cats = cats[:PLOT_CATEGORIES]
    x = np.arange(len(cats))
    ax.bar(x - 0.2, [p_ref.get(c, 0.0) for c in cats], 0.4, label="reference", color="tab:blue")
    ax.bar(x + 0.2, [p_win.get(c, 0.0) for c in cats], 0.4, label="window", color="tab:orange")
    labels = [(c or "(missing)") + ("*" if c not in p_ref else "") for c in cats]
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)


def plot_png(
    features: Sequence[Mapping[str, Any]], specs: Sequence[FeatureSpec], reference: Columns, window: Columns
) -> bytes | None:
    """Reference vs window for the most drifted features (smallest p-values first); None if none tested.
    Categories the reference never saw are starred."""
    import matplotlib as mpl  # noqa: PLC0415 - plotting only when there is something to plot

    mpl.use("Agg")
    from matplotlib import pyplot as plt  # noqa: PLC0415

    kinds = {s.name: s.kind for s in specs}
    tested = [f for f in features if f.get("pValue") is not None and f.get("name") in kinds]
    top = sorted(tested, key=lambda f: (float(f["pValue"]), str(f["name"])))[:PLOT_FEATURES]
    if not top:
        return None
    cols = min(3, len(top))
    rows = math.ceil(len(top) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    try:
        for ax, f in zip(axes.flat, top, strict=False):
            name = str(f["name"])
            if kinds[name] == "numeric":
                _numeric_panel(ax, np.asarray(reference[name], float), np.asarray(window[name], float))
            else:
                _categorical_panel(ax, reference[name], window[name])
            mark = "DRIFTED " if f.get("drifted") else ""
            ax.set_title(f"{mark}{name}\n{f['test']} {f['statistic']:.3g}, p={f['pValue']:.2g}", fontsize=9)
            ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(top) :]:
            ax.axis("off")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)
