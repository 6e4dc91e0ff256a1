"""DriftMonitor decisions: aligned windows, hysteresis, and retraining gated by cooldown, cap and data."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.api.driftmonitor import DriftMonitor, DriftMonitorStatus
from mloop.api.mlproject import MLProject
from mloop.reconcile.drift import (
    apply_report,
    current_window,
    data_digest,
    drift_job_name,
    retrain_run,
    should_retrain,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 1, 12, 7, 30, tzinfo=UTC)


def load(name: str, **patch: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    body["metadata"]["namespace"] = "default"
    body["spec"].update(patch)
    return body


MONITOR = DriftMonitor.model_validate(load("driftmonitor.yaml"))
DRIFTED = {
    "drifted": True,
    "samples": {"reference": 5000, "window": 800},
    "features": [
        {"name": "income", "test": "ks", "statistic": 0.3, "pValue": 1e-9, "drifted": True},
        {"name": "age", "test": "ks", "statistic": 0.01, "pValue": 0.9, "drifted": False},
    ],
}
STEADY = {"drifted": False, "samples": {"window": 800}, "features": []}
THIN = {"drifted": False, "insufficientData": True, "samples": {"window": 3}, "features": []}


def project(last_retrain: datetime | None = None) -> MLProject:
    body = load("mlproject.yaml")
    body["status"] = {"lastRetrainTime": last_retrain.isoformat()} if last_retrain else {}
    return MLProject.model_validate(body)


def test_windows_are_aligned_and_named_deterministically() -> None:
    window = current_window(MONITOR, NOW)
    assert window.end.timestamp() % 300 == 0  # the example checks every 5m
    assert window.end <= NOW
    assert current_window(MONITOR, NOW + timedelta(seconds=1)) == window
    assert drift_job_name("credit", window) == drift_job_name("credit", current_window(MONITOR, NOW))


def test_hysteresis_counts_drifted_windows_and_ignores_thin_ones() -> None:
    status = DriftMonitorStatus()
    status = apply_report(status, DRIFTED, job="j1", version="credit-1", now=NOW)
    assert (status.drifted, status.consecutive_drift_windows) == (True, 1)
    assert [f.name for f in status.drifted_features] == ["income"]
    status = apply_report(status, THIN, job="j2", version="credit-1", now=NOW)
    assert (status.drifted, status.consecutive_drift_windows) == (False, 1)
    status = apply_report(status, DRIFTED, job="j3", version="credit-1", now=NOW)
    assert status.consecutive_drift_windows == 2
    status = apply_report(status, STEADY, job="j4", version="credit-1", now=NOW)
    assert status.consecutive_drift_windows == 0


@pytest.mark.parametrize(
    ("windows", "last_digest", "last_retrain", "active", "expected"),
    [
        (1, None, None, 0, False),  # below consecutiveWindows
        (5, None, None, 0, True),
        (5, "d1", None, 0, False),  # already retrained on this data
        (5, None, NOW - timedelta(minutes=5), 0, False),  # cooldown
        (5, None, NOW - timedelta(days=2), 0, True),
        (5, None, None, 1, False),  # maxConcurrentRuns
    ],
)
def test_should_retrain(
    windows: int, last_digest: str | None, last_retrain: datetime | None, active: int, expected: bool
) -> None:
    status = DriftMonitorStatus(consecutive_drift_windows=windows, last_retrain_data_digest=last_digest)
    decided, reason = should_retrain(
        status, MONITOR, project(last_retrain), data_digest="d1", active_runs=active, now=NOW
    )
    assert decided is expected, reason


def test_flapping_signals_inside_one_cooldown_make_one_run() -> None:
    """100 alternating windows: every alert names the same run, so at most one can ever be created."""
    status, names = DriftMonitorStatus(), set()
    digest = data_digest([("s3://b/d.csv", 1000)])
    for i in range(100):
        status = apply_report(status, DRIFTED if i % 3 else STEADY, job=f"j{i}", version="v", now=NOW)
        decided, _ = should_retrain(status, MONITOR, project(), data_digest=digest, active_runs=0, now=NOW)
        if decided:
            body = retrain_run(load("driftmonitor.yaml"), project(), status, data_digest=digest)
            names.add(body["metadata"]["name"])
            assert body["spec"]["trigger"] == "drift"
            assert "income" in body["spec"]["reason"]
    assert len(names) == 1
    assert data_digest([("s3://b/d.csv", 1000), ("s3://b/e.csv", 5)]) != digest
