"""TrainingRun transitions from the Job's state and the trainer's summary."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mloop.api.trainingrun import TrainingRunStatus
from mloop.reconcile.runs import JobObservation, observe_job, plan_training_run, unreadable_result

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
OK = {
    "status": "succeeded",
    "reason": "Succeeded",
    "dataDigest": "d" * 64,
    "configDigest": "c" * 64,
    "stages": [{"name": "DataLoaded", "status": "True", "reason": "Loaded", "message": "5000 rows"}],
}
BAD = {
    "status": "failed",
    "reason": "LeakageSuspected",
    "message": "column days_past_due predicts the target (AUC 0.99)",
    "stages": [{"name": "LeakageAudited", "status": "False", "reason": "LeakageSuspected", "message": "..."}],
}


def job(conditions: list[dict[str, Any]] | None = None, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "r-train"}, "status": {"conditions": conditions or [], **status}}


def pod(message: str, finished: str = "2026-01-01T11:00:00Z") -> dict[str, Any]:
    state = {"terminated": {"exitCode": 0, "message": message, "finishedAt": finished}}
    return {"status": {"containerStatuses": [{"name": "trainer", "state": state}]}}


@pytest.mark.parametrize(
    ("job_body", "state"),
    [
        (None, "missing"),
        (job(), "pending"),
        (job(active=1, startTime="2026-01-01T10:00:00Z"), "running"),
        (job([{"type": "Complete", "status": "True"}], succeeded=1), "succeeded"),
        (job([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}], failed=2), "failed"),
    ],
)
def test_observe_job_states(job_body: dict[str, Any] | None, state: str) -> None:
    assert observe_job(job_body, []).state == state


def test_observe_job_reads_the_newest_termination_message() -> None:
    pods = [
        pod(json.dumps({"status": "failed", "reason": "A"}), "2026-01-01T10:00:00Z"),
        pod(json.dumps({"status": "failed", "reason": "B"}), "2026-01-01T10:05:00Z"),
        pod("not json at all"),
    ]
    observed = observe_job(job([{"type": "Failed", "status": "True"}]), pods)
    assert observed.termination == {"status": "failed", "reason": "B"}


def plan(
    job_obs: JobObservation,
    result: dict[str, Any] | None = None,
    version: str | None = None,
    previous: TrainingRunStatus | None = None,
):  # type: ignore[no-untyped-def]
    return plan_training_run(
        previous or TrainingRunStatus(),
        job_name="r-train",
        job=job_obs,
        result=result,
        model_version=version,
        generation=1,
        now=NOW,
    )


def ready(status: TrainingRunStatus) -> tuple[str, str]:
    cond = status.condition("Ready")
    assert cond is not None
    return cond.status, cond.reason


def test_new_run_creates_its_job() -> None:
    p = plan(JobObservation("missing"))
    assert (p.create_job, p.finished, p.status.phase) == (True, False, "Pending")
    assert p.status.job_name == "r-train"


def test_running() -> None:
    p = plan(JobObservation("running", start_time="2026-01-01T10:00:00Z"))
    assert (p.create_job, p.status.phase, ready(p.status)) == (False, "Running", ("Unknown", "Running"))
    assert p.status.start_time == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_success_waits_for_the_version_then_is_ready() -> None:
    done = JobObservation("succeeded", completion_time="2026-01-01T11:00:00Z")
    p = plan(done, OK)
    assert (p.succeeded, p.finished, ready(p.status)) == (True, False, ("Unknown", "CreatingModelVersion"))
    p = plan(done, OK, version="credit-1")
    assert (p.finished, p.status.phase, ready(p.status)) == (True, "Succeeded", ("True", "Succeeded"))
    assert p.status.model_version == "credit-1"
    assert p.status.data_digest == "d" * 64
    assert p.status.condition("DataLoaded") is not None


def test_trainer_failure_reason_reaches_ready() -> None:
    p = plan(JobObservation("failed", reason="BackoffLimitExceeded"), BAD)
    assert (p.finished, p.succeeded, p.status.phase) == (True, False, "Failed")
    assert ready(p.status) == ("False", "LeakageSuspected")
    cond = p.status.condition("LeakageAudited")
    assert cond is not None
    assert cond.status == "False"


def test_job_failure_without_a_result_uses_the_job_reason() -> None:
    p = plan(
        JobObservation("failed", reason="DeadlineExceeded", message="Job was active longer than allowed")
    )
    assert ready(p.status) == ("False", "DeadlineExceeded")


def test_a_finished_run_is_never_restarted_when_its_job_is_deleted() -> None:
    finished = plan(JobObservation("succeeded"), OK, version="credit-1").status
    p = plan(JobObservation("missing"), None, previous=finished)
    assert (p.create_job, p.finished, p.status.phase) == (False, True, "Succeeded")
    failed = plan(JobObservation("failed"), BAD).status
    assert plan(JobObservation("missing"), None, previous=failed).create_job is False


@pytest.mark.parametrize(
    ("storage_reason", "reason"),
    [("StorageUnavailable", "StorageUnavailable"), (None, "ResultUnavailable")],
    ids=["outage", "missing-or-malformed"],
)
def test_an_unreadable_result_names_an_outage_as_such(storage_reason: str | None, reason: str) -> None:
    verdict = unreadable_result(storage_reason, "cannot reach S3 endpoint 127.0.0.1:9")
    assert (verdict.type, verdict.status, verdict.reason) == ("Ready", "False", reason)
    assert verdict.message == "reading result.json: cannot reach S3 endpoint 127.0.0.1:9"
