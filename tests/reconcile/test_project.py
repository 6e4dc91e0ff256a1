"""MLProject status decisions: checks become conditions, Ready aggregates them, other fields survive."""

from datetime import UTC, datetime, timedelta

from mloop.api.mlproject import MLProjectStatus
from mloop.reconcile.conditions import Verdict
from mloop.reconcile.project import ProjectChecks, invalid_spec_status, plan_project_status

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OK_STORAGE = Verdict("StorageReady", "True", "BucketReachable", "bucket 'b'")
OK_DATA = Verdict("DataAvailable", "True", "DataFound", "s3://b/d.csv")


def conditions(status: MLProjectStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_all_checks_pass_makes_the_project_ready() -> None:
    status = plan_project_status(MLProjectStatus(), ProjectChecks(OK_STORAGE, OK_DATA), generation=2, now=T0)
    assert conditions(status) == {
        "StorageReady": ("True", "BucketReachable"),
        "DataAvailable": ("True", "DataFound"),
        "Ready": ("True", "Ready"),
    }
    assert status.observed_generation == 2
    assert status.phase == "Ready"
    assert not ProjectChecks(OK_STORAGE, OK_DATA).retry


def test_missing_bucket_is_storage_unavailable_and_retried() -> None:
    checks = ProjectChecks(
        Verdict("StorageReady", "False", "StorageUnavailable", "bucket 'b': BucketNotFound"),
        Verdict("DataAvailable", "Unknown", "StorageUnavailable", "not checked"),
    )
    status = plan_project_status(MLProjectStatus(), checks, generation=1, now=T0)
    ready = status.condition("Ready")
    assert ready is not None
    assert (ready.status, ready.reason) == ("False", "StorageUnavailable")
    assert "BucketNotFound" in ready.message
    assert checks.retry


def test_missing_data_is_data_not_found() -> None:
    checks = ProjectChecks(OK_STORAGE, Verdict("DataAvailable", "False", "DataNotFound", "no object"))
    status = plan_project_status(MLProjectStatus(), checks, generation=1, now=T0)
    assert conditions(status)["Ready"] == ("False", "DataNotFound")
    assert status.phase == "NotReady"


def test_fields_owned_by_other_reconcilers_are_carried_over() -> None:
    previous = MLProjectStatus(champion="credit-3", latest_run="credit-4")
    status = plan_project_status(previous, ProjectChecks(OK_STORAGE, OK_DATA), generation=1, now=T0)
    assert (status.champion, status.latest_run) == ("credit-3", "credit-4")


def test_a_settled_project_plans_an_identical_status() -> None:
    first = plan_project_status(MLProjectStatus(), ProjectChecks(OK_STORAGE, OK_DATA), generation=1, now=T0)
    again = plan_project_status(
        first, ProjectChecks(OK_STORAGE, OK_DATA), generation=1, now=T0 + timedelta(hours=1)
    )
    assert again == first


def test_invalid_spec() -> None:
    status = invalid_spec_status(MLProjectStatus(), "spec.problem.task: bad", generation=4, now=T0)
    ready = status.condition("Ready")
    assert ready is not None
    assert (ready.status, ready.reason, ready.message) == ("False", "InvalidSpec", "spec.problem.task: bad")
    assert status.phase == "Invalid"
