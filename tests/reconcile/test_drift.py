"""DriftMonitor decisions: aligned windows, hysteresis, and retraining gated by cooldown, cap and data."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.api.driftmonitor import DriftMonitor, DriftMonitorStatus
from mloop.api.mlproject import MLProject
from mloop.api.trainingrun import TrainingRun
from mloop.reconcile.drift import (
    adopt_retrain_run,
    apply_failed_check,
    apply_report,
    current_window,
    data_digest,
    drift_job_name,
    monitor_ready,
    report_unreadable,
    retrain_run,
    should_retrain,
    started_check,
    unfinished_check,
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


def test_a_check_that_outlasts_its_interval_is_finished_before_the_next_window() -> None:
    first = current_window(MONITOR, NOW)
    later = current_window(MONITOR, NOW + timedelta(minutes=5))
    job = drift_job_name("credit", first)
    running = DriftMonitorStatus(active_check=started_check(job, first))
    assert unfinished_check(running, first) is None  # still its own window: the normal path reads it
    assert unfinished_check(running, later) == (job, first)  # the next window waits for it
    folded = running.model_copy(update={"last_check_job": job})
    assert unfinished_check(folded, later) is None
    assert unfinished_check(DriftMonitorStatus(), later) is None


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


def test_drift_runs_add_the_deployments_labelled_traffic_only_when_the_project_opts_in() -> None:
    status = DriftMonitorStatus(consecutive_drift_windows=5)
    plain = retrain_run(load("driftmonitor.yaml"), project(), status, data_digest="d1")
    assert "feedback" not in plain["spec"]
    body = load("mlproject.yaml")
    body["spec"]["retraining"]["feedback"] = {"maxRows": 5000, "maxAge": "168h"}
    opted = MLProject.model_validate(body)
    run = retrain_run(load("driftmonitor.yaml"), opted, status, data_digest="d1")
    assert run["spec"]["feedback"] == {
        "deploymentRef": {"name": MONITOR.spec.deployment_ref.name},
        "maxRows": 5000,
        "maxAge": "168h",
    }
    TrainingRun.model_validate(run)  # the API server accepts what the operator creates
    assert run["metadata"]["name"] == plain["metadata"]["name"]  # still one run per (monitor, data digest)
    body["spec"]["retraining"]["feedback"]["enabled"] = False
    off = retrain_run(load("driftmonitor.yaml"), MLProject.model_validate(body), status, data_digest="d1")
    assert "feedback" not in off["spec"]


def test_a_failed_check_says_why_and_neither_counts_nor_clears_drift() -> None:
    drifted = apply_report(DriftMonitorStatus(), DRIFTED, job="j1", version="credit-1", now=NOW)
    assert monitor_ready(drifted).status == "True"
    failed = apply_failed_check(
        drifted,
        job="j2",
        version="credit-1",
        reason="StorageUnavailable",
        message="cannot reach S3 endpoint s3:9000",
        now=NOW,
    )
    assert (failed.last_check_job, failed.samples) == ("j2", None)  # the window is done, never re-run
    assert (failed.drifted, failed.consecutive_drift_windows) == (True, 1)  # no alert, no clearing
    assert [f.name for f in failed.drifted_features] == ["income"]
    assert failed.last_report == drifted.last_report  # the last report that exists
    ready = monitor_ready(failed)
    assert (ready.status, ready.reason) == ("False", "StorageUnavailable")
    assert "j2: cannot reach S3 endpoint s3:9000" in ready.message
    checked = apply_report(failed, STEADY, job="j3", version="credit-1", now=NOW)
    assert monitor_ready(checked).status == "True"  # the next window checked normally: watching again
    assert checked.consecutive_drift_windows == 0


def test_an_unreadable_report_leaves_the_window_to_be_read_again() -> None:
    checked = apply_report(DriftMonitorStatus(), STEADY, job="j1", version="credit-1", now=NOW)
    waiting = report_unreadable(checked, job="j2", reason="StorageUnavailable", message="S3 down", now=NOW)
    assert waiting.last_check_job == "j1"  # not marked checked: the report is read once S3 is back
    assert (monitor_ready(waiting).status, monitor_ready(waiting).reason) == ("False", "StorageUnavailable")


def test_a_run_created_by_an_attempt_that_died_before_writing_status_is_recorded_not_decided_again() -> None:
    """Operator killed between creating the alert's run and writing the monitor's status: the next reconcile
    finds the run (its name hashes monitor and data), records it and starts the cooldown that was lost."""
    status = apply_report(
        DriftMonitorStatus(consecutive_drift_windows=2), DRIFTED, job="j", version="v", now=NOW
    )
    run = retrain_run(load("driftmonitor.yaml"), project(), status, data_digest="d1")
    run["metadata"]["creationTimestamp"] = "2026-01-01T12:07:00Z"
    created = datetime(2026, 1, 1, 12, 7, tzinfo=UTC)

    assert adopt_retrain_run(status, None, project(), data_digest="d1") is None  # nothing to adopt: decide
    adopted = adopt_retrain_run(status, run, project(), data_digest="d1")
    assert adopted is not None
    assert (adopted.status.last_retrain_run, adopted.status.last_retrain_data_digest) == (
        run["metadata"]["name"],
        "d1",
    )
    assert adopted.cooldown_from == created  # the project never heard of it
    again = adopt_retrain_run(status, run, project(last_retrain=created), data_digest="d1")
    assert again is not None
    assert again.cooldown_from is None  # the cooldown was started before the crash
    assert adopt_retrain_run(adopted.status, run, project(), data_digest="d1") is None  # recorded: settled
