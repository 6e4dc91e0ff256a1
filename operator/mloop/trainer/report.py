"""Stage 7b (Exported): the model card, the plots and the self-contained HTML evaluation report.

All three are rendered from the run's result dict (plus the test outputs for curves), so what a person
reads is exactly what the operator records. PNGs are rendered with the Agg backend and without the
software/date metadata, so the same run produces byte-identical files (and digests).
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

__all__ = ["model_card", "plots", "report_html"]

_PNG_META = {"Software": None}


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata=_PNG_META, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plots(
    task: str,
    *,
    y: np.ndarray,
    output: np.ndarray,
    classes: list[Any],
    positive: Any | None,
    result: dict[str, Any],
) -> dict[str, bytes]:
    """PNG name to bytes: ROC and PR (or residuals), calibration, confusion matrix, slice bars."""
    out: dict[str, bytes] = {}
    if task == "regression":
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        residual = np.asarray(y, dtype=np.float64) - output
        axes[0].scatter(output, residual, s=6, alpha=0.5)
        axes[0].axhline(0, color="black", lw=0.8)
        axes[0].set(xlabel="predicted", ylabel="actual - predicted", title="Residuals (test)")
        axes[1].scatter(y, output, s=6, alpha=0.5)
        lo, hi = float(np.min(y)), float(np.max(y))
        axes[1].plot([lo, hi], [lo, hi], color="black", lw=0.8)
        axes[1].set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test)")
        out["residuals.png"] = _png(fig)
    else:
        out["roc_pr.png"] = _curves(y, output, classes, positive)
        out["calibration.png"] = _calibration(result["evaluation"]["calibration"])
        out["confusion_matrix.png"] = _confusion(result["evaluation"]["confusionMatrix"])
    if result.get("slices"):
        out["slices.png"] = _slices(result["slices"], result["primaryMetric"])
    return out


def _curves(y: np.ndarray, proba: np.ndarray, classes: list[Any], positive: Any | None) -> bytes:
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10, 4))
    shown = [positive] if len(classes) == 2 else list(classes)
    y_obj = np.asarray(y, dtype=object)
    for cls in shown[:10]:
        truth = y_obj == cls
        if truth.all() or not truth.any():
            continue
        score = proba[:, list(classes).index(cls)]
        fpr, tpr, _ = roc_curve(truth, score)
        prec, rec, _ = precision_recall_curve(truth, score)
        roc_ax.plot(fpr, tpr, label=str(cls))
        pr_ax.plot(rec, prec, label=str(cls))
    roc_ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    roc_ax.legend(fontsize=7)
    return _png(fig)


def _calibration(cal: dict[str, Any]) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 4))
    pred = [b["meanPredicted"] for b in cal["bins"]]
    obs = [b["observedRate"] for b in cal["bins"]]
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.plot(pred, obs, marker="o")
    ax.set(xlabel="mean predicted", ylabel="observed rate", title=f"Calibration (Brier {cal['brier']:.3f})")
    return _png(fig)


def _confusion(cm: dict[str, Any]) -> bytes:
    matrix = np.asarray(cm["matrix"])
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(cm["labels"]))
    ax.set_xticks(list(ticks), cm["labels"], rotation=45)
    ax.set_yticks(list(ticks), cm["labels"])
    for i in ticks:
        for j in ticks:
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8)
    ax.set(xlabel="predicted", ylabel="actual", title="Confusion matrix (test)")
    return _png(fig)


def _slices(slices: list[dict[str, Any]], primary: str) -> bytes:
    shown = [s for s in slices if primary in s["metrics"]][:40]
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.3 * len(shown) + 1)))
    labels = [f"{s['column']}={s['value']} (n={s['rows']})" for s in shown]
    colors = ["tab:blue" if s["gated"] else "lightgrey" for s in shown]
    ax.barh(labels, [s["metrics"][primary] for s in shown], color=colors)
    ax.invert_yaxis()
    ax.set(xlabel=primary, title="Test metric per slice (grey: too few rows, not gated)")
    return _png(fig)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("-" if value is None else str(value))


def _metric_table(metrics: dict[str, dict[str, float]]) -> list[str]:
    sets = [k for k in ("validation", "test", "baseline", "champion") if metrics.get(k)]
    names = sorted({m for k in sets for m in metrics[k]})
    lines = ["| metric | " + " | ".join(sets) + " |", "|---" * (len(sets) + 1) + "|"]
    lines += [f"| {n} | " + " | ".join(_fmt(metrics[k].get(n)) for k in sets) + " |" for n in names]
    return lines


def model_card(result: dict[str, Any], spec: dict[str, Any]) -> str:
    """Markdown: what the model is for, who owns it, what it learned from and how good it is."""
    problem, data = spec["problem"], result["data"]
    best, split = result["best"], result["split"]
    ok_trials = [t for t in result["trials"] if t.get("status") == "ok"]
    lines = [
        f"# Model card: {problem['target']} ({problem['task']})",
        "",
        "## Intended use",
        spec.get("description") or "_No description was given in the MLProject._",
        "",
        f"- Owner: {spec['owner']}",
        f"- Primary metric: {problem['primaryMetric']}",
        f"- Trainer version: {result['trainerVersion']}; config digest `{result['configDigest']}`",
        "",
        "## Data",
        f"- Source: `{data.get('uri')}` (sha256 `{data.get('sha256')}`), {data.get('rows')} rows, "
        f"{data.get('columns')} columns",
        f"- Split: {split.get('strategy')} (seed {split.get('seed')}), "
        f"sizes {json.dumps(split.get('sizes'))}",
        f"- Features ({len(result['signature']['inputs'])}): "
        + ", ".join(f"{i['name']} ({i['kind']})" for i in result["signature"]["inputs"]),
        "",
        "## Training",
        f"- Winner: **{best['candidate']}** ({best['algorithm']}), params `{json.dumps(best['params'])}`",
        f"- Trials: {len(result['trials'])} ({len(ok_trials)} succeeded); search on the validation set only.",
        "- Refit policy: the winner is refitted on train + validation with its chosen parameters; the "
        "validation scores were measured before the refit and the sealed test set judges the refitted model.",
        "",
        "## Test metrics (sealed test set)",
        *_metric_table(result["metrics"]),
        "",
    ]
    if result.get("slices"):
        lines += [
            "## Slices",
            "| column | value | rows | metric | gap | gated |",
            "|---|---|---|---|---|---|",
        ]
        primary = problem["primaryMetric"]
        lines += [
            f"| {s['column']} | {s['value']} | {s['rows']} | {_fmt(s['metrics'].get(primary))} | "
            f"{_fmt(s['gap'])} | {s['gated']} |"
            for s in result["slices"]
        ]
        lines.append("")
    if result.get("fairness"):
        lines.append("## Fairness")
        for col, f in result["fairness"].items():
            lines.append(
                f"- {col}: largest {f['metric']} gap {_fmt(f['maxGap'])}; "
                f"demographic-parity difference {_fmt(f['demographicParityDifference'])}"
            )
        lines.append("")
    lines.append("## Leakage audit")
    findings = result["leakage"]["flagged"]
    lines += [f"- {f['column']}: {f['check']} ({f['action']}) {f['detail']}" for f in findings] or ["- none"]
    lines += [
        "",
        "## Limitations",
        "- Metrics hold for data distributed like the test set; watch drift against reference.parquet.",
        "- Slices with fewer test rows than data.sliceMinRows are reported but too small to judge.",
        "- Inputs are float32 (numeric) and strings (categorical, missing = empty string); "
        "categories unseen in training are ignored by the one-hot encoder.",
        "",
    ]
    return "\n".join(lines)


def report_html(result: dict[str, Any], spec: dict[str, Any], images: dict[str, bytes]) -> str:
    """One self-contained HTML file: the model card's facts plus every plot inlined as base64 PNG."""
    card = html.escape(model_card(result, spec))
    figures = "\n".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode()}"/><figcaption>{html.escape(name)}</figcaption></figure>'
        for name, data in sorted(images.items())
    )
    worst = html.escape(json.dumps(result.get("evaluation", {}).get("worstPredictions", [])[:20], indent=1))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>mloop evaluation report</title>"
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}pre{white-space:pre-wrap}"
        "img{max-width:100%}</style></head><body>\n<h1>Evaluation report</h1>\n"
        f"<pre>{card}</pre>\n<h2>Plots</h2>\n{figures}\n<h2>Worst test predictions</h2>\n<pre>{worst}</pre>\n"
        "</body></html>\n"
    )
