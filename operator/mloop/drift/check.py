"""One drift check from inputs to report: read, test, correct, judge (the CLI only parses and writes).

Decisions documented here because the operator relies on them:

- A window with fewer than ``window.minSamples`` requests (default 100 when unset) is not tested:
  ``insufficientData: true``, ``drifted: false``; the report still has the counts.
- One family of tests per check: every feature's KS or chi-square, plus the prediction test and the MMD
  test when they run. The correction (``bonferroni`` or ``fdr``) is applied across that family and a test
  is flagged when its adjusted p-value is below ``detector.pValue``; ``drifted`` is true when any is.
- Prediction drift compares the window's predictions with those logged in a baseline period
  (``--baseline-start/--baseline-end``, same traffic prefix unless ``--baseline-traffic``): the reference
  sample carries no predictions. Without a baseline, or with ``predictionDrift: false``, it is null.
- Live performance (``performance``) is reported, never folded into ``drifted``: its own ``passed`` says
  whether the metric met ``min``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mloop.api.driftmonitor import Detector as DetectorSpec
from mloop.api.driftmonitor import DriftWindow, PerformanceCheck
from mloop.drift.corrections import adjust
from mloop.drift.data import (
    feature_specs,
    load_reference,
    positive_class,
    prediction_sample,
    reference_columns,
    window_columns,
)
from mloop.drift.detector import BackendUnavailable, FeatureSpec, MmdSettings, TestResult, make_detector
from mloop.drift.performance import evaluate
from mloop.drift.report import plot_png
from mloop.drift.storage import CheckFailure, Storage
from mloop.drift.window import Record, format_time, read_feedback, read_window

__all__ = ["DEFAULT_MIN_SAMPLES", "CheckConfig", "CheckRequest", "run_check"]

DEFAULT_MIN_SAMPLES = 100
PREDICTION = "_prediction"


@dataclass
class CheckConfig:
    """The DriftMonitor fields a check uses (``--config``), validated by the API models themselves."""

    detector: DetectorSpec = field(default_factory=DetectorSpec)
    window: DriftWindow | None = None
    prediction_drift: bool = True
    performance: PerformanceCheck | None = None

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> CheckConfig:
        """From the spec's JSON (camelCase); pydantic's ``ValidationError`` is a ``ValueError``."""
        unknown = set(doc) - {"detector", "window", "predictionDrift", "performance"}
        if unknown:
            raise ValueError(f"unknown --config keys: {sorted(unknown)}")
        window = doc.get("window")
        performance = doc.get("performance")
        return cls(
            detector=DetectorSpec.model_validate(doc.get("detector") or {}),
            window=DriftWindow.model_validate(window) if window else None,
            prediction_drift=bool(doc.get("predictionDrift", True)),
            performance=PerformanceCheck.model_validate(performance) if performance else None,
        )

    @property
    def min_samples(self) -> int:
        return (self.window.min_samples if self.window else None) or DEFAULT_MIN_SAMPLES

    @property
    def max_samples(self) -> int | None:
        return self.window.max_samples if self.window else None


@dataclass
class CheckRequest:
    """Where the check reads and what period it covers."""

    reference: str
    traffic: str
    start: datetime
    end: datetime
    output: str | None = None
    feedback: str | None = None
    signature: Mapping[str, Any] | None = None
    baseline_start: datetime | None = None
    baseline_end: datetime | None = None
    baseline_traffic: str | None = None
    feedback_lag: timedelta = timedelta(hours=24)
    mmd_permutations: int = 1000
    seed: int = 0
    plot: bool = True


def _detector(backend: str, specs: Sequence[FeatureSpec], mmd: MmdSettings | None) -> Any:
    try:
        return make_detector(backend, specs, mmd)
    except BackendUnavailable as exc:
        raise CheckFailure("BackendUnavailable", str(exc)) from exc


def _entry(result: TestResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": result.name,
        "kind": result.kind,
        "test": result.test,
        "statistic": result.statistic,
        "pValue": result.p_value,
        "pValueCorrected": None,
        "drifted": False,
        "samples": {"reference": result.n_reference, "window": result.n_window},
    }
    if result.unseen:
        out["unseenCategories"] = result.unseen[:50]
    if result.note:
        out["note"] = result.note
    return out


def _prediction_test(
    request: CheckRequest,
    config: CheckConfig,
    storage: Storage,
    window: Sequence[Record],
    classes: Sequence[str],
    *,
    notes: list[str],
) -> tuple[dict[str, Any] | None, TestResult | None]:
    if not config.prediction_drift:
        return None, None
    if request.baseline_start is None or request.baseline_end is None:
        notes.append("predictionDrift: no baseline period given (--baseline-start/--baseline-end)")
        return None, None
    prefix = request.baseline_traffic or request.traffic
    baseline = read_window(storage, prefix, request.baseline_start, request.baseline_end, config.max_samples)
    positive = positive_class([*baseline.records, *window], classes)
    base = prediction_sample(baseline.records, classes, positive)
    current = prediction_sample(window, classes, positive)
    info: dict[str, Any] = {
        "baseline": {"start": format_time(request.baseline_start), "end": format_time(request.baseline_end)},
        "samples": {"baseline": len(baseline.records), "window": len(window)},
    }
    if len(baseline.records) < config.min_samples or base is None or current is None:
        notes.append(
            f"predictionDrift: baseline has {len(baseline.records)} requests, {config.min_samples} needed"
        )
        return {**info, "test": None, "statistic": None, "pValue": None, "drifted": False}, None
    if base.kind != current.kind:
        notes.append("predictionDrift: baseline and window predictions differ in kind")
        return {**info, "test": None, "statistic": None, "pValue": None, "drifted": False}, None
    spec = FeatureSpec(PREDICTION, base.kind)
    detector = _detector(config.detector.backend, [spec], None)
    detector.fit({PREDICTION: base.values})
    result: TestResult = detector.test({PREDICTION: current.values})[0]
    info.update(source=base.source, test=result.test, statistic=result.statistic, pValue=result.p_value)
    return info, result


def _insufficient(report: dict[str, Any], n: int, min_samples: int) -> dict[str, Any]:
    report["insufficientData"] = True
    report["notes"].append(f"window has {n} requests, {min_samples} needed: not tested")
    return report


def run_check(
    request: CheckRequest, config: CheckConfig, storage: Storage
) -> tuple[dict[str, Any], bytes | None]:
    """The report (JSON-ready) and the plot PNG (None when nothing was tested)."""
    det = config.detector
    notes: list[str] = []
    reference_df = load_reference(storage.read(request.reference, "reference sample"))
    specs = feature_specs(reference_df, request.signature, det.features)
    classes = [str(c) for c in (request.signature or {}).get("classes") or []]
    data = read_window(storage, request.traffic, request.start, request.end, config.max_samples)
    records = data.records
    report: dict[str, Any] = {
        "apiVersion": "mloop.io/v1alpha1",
        "kind": "DriftReport",
        "status": "succeeded",
        "drifted": False,
        "insufficientData": False,
        "window": {"start": format_time(request.start), "end": format_time(request.end)},
        "samples": {"reference": len(reference_df), "window": len(records)},
        "detector": {
            "backend": det.backend,
            "correction": det.correction,
            "pValue": det.p_value,
            "multivariate": det.multivariate,
            "tests": 0,
        },
        "features": [],
        "multivariate": None,
        "predictionDrift": None,
        "performance": None,
        "inputs": {
            "reference": request.reference,
            "traffic": request.traffic,
            "partitions": data.partitions,
            "files": data.files,
            "skippedLines": data.skipped_lines,
            "truncated": data.truncated,
        },
        "plot": None,
        "notes": notes,
    }
    if config.performance is not None:
        if request.feedback:
            labels, _ = read_feedback(
                storage, request.feedback, request.start, request.end + request.feedback_lag
            )
            check = config.performance.model_dump(by_alias=True)
            report["performance"] = evaluate(
                records, labels, check, classes, positive_class(records, classes)
            )
        else:
            notes.append("performance: no --feedback prefix given")
    if len(records) < config.min_samples:
        return _insufficient(report, len(records), config.min_samples), None
    mmd = (
        MmdSettings(permutations=request.mmd_permutations, seed=request.seed)
        if det.multivariate == "mmd"
        else None
    )
    detector = _detector(det.backend, specs, mmd)
    reference = reference_columns(reference_df, specs)
    window = window_columns(records, specs)
    detector.fit(reference)
    results = detector.test(window)
    prediction, prediction_result = _prediction_test(request, config, storage, records, classes, notes=notes)
    family = [*results, *([prediction_result] if prediction_result else [])]
    adjusted = adjust([r.p_value for r in family], det.correction)
    entries = []
    for result, p_adj in zip(family, adjusted, strict=True):
        entry = _entry(result)
        entry["pValueCorrected"] = p_adj
        entry["drifted"] = p_adj is not None and p_adj < det.p_value
        entries.append(entry)
    report["detector"]["tests"] = sum(p is not None for p in adjusted)
    report["features"] = [
        e for e in entries if e["kind"] in ("numeric", "categorical") and e["name"] != PREDICTION
    ]
    multivariate = [e for e in entries if e["kind"] == "multivariate"]
    report["multivariate"] = multivariate[0] if multivariate else None
    if prediction is not None:
        if prediction_result is not None:
            last = entries[-1]
            prediction.update(pValueCorrected=last["pValueCorrected"], drifted=last["drifted"])
        report["predictionDrift"] = prediction
    report["drifted"] = any(e["drifted"] for e in entries)
    report["driftedFeatures"] = [e["name"] for e in report["features"] if e["drifted"]]
    png = plot_png(report["features"], specs, reference, window) if request.plot else None
    return report, png
