"""``mloop approve``, ``mloop promote|abort|rollback``: annotations only, nothing written when refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mloop.cli import actions
from mloop.cli.errors import ApiError
from mloop.cli.kube import Kube
from mloop.reconcile.versions import APPROVED_BY
from tests.cli.conftest import Cluster, cond, example, run_subprocess

pytestmark = pytest.mark.integration


def version(cluster: Cluster, name: str, stage: str, validated: str, reason: str = "GatePassed") -> None:
    cluster.create(
        example("ModelVersion", name),
        {
            "stage": stage,
            "conditions": [cond("Validated", validated, reason, "delta 0.0 below minImprovement")],
        },
    )


def deployment(cluster: Cluster, name: str, **status: Any) -> dict[str, Any]:
    return cluster.create(example("ModelDeployment", name), status)


def test_cli_constants_match_the_operator() -> None:
    assert actions.APPROVED_BY == APPROVED_BY


def test_approve_sets_only_the_annotation(cluster: Cluster, run_cli: Any) -> None:
    cluster.create(example("MLProject", "credit", promotion={"policy": "manual"}))
    version(cluster, "credit-2", "candidate", "True")
    before = cluster.get("ModelVersion", "credit-2")
    result = run_cli("approve", "credit-2", "--by", "alice")
    assert result.code == 0, result.err
    assert result.out.strip() == (
        "approved ModelVersion credit-2 as alice: it passed the gate, so the operator promotes it to champion"
    )
    after = cluster.get("ModelVersion", "credit-2")
    assert after["metadata"]["annotations"] == {APPROVED_BY: "alice"}
    assert after["spec"] == before["spec"]
    assert after["status"] == before["status"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]

    again = run_cli("approve", "credit-2", "--by", "bob")
    assert again.code == 0
    assert "already approved by alice" in again.out
    unchanged = cluster.get("ModelVersion", "credit-2")
    assert unchanged["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]


def test_approve_defaults_to_the_local_user_and_notes_auto_policy(
    cluster: Cluster, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "carol")
    cluster.create(example("MLProject", "credit"))  # the example's policy is auto
    version(cluster, "credit-3", "candidate", "Unknown", "AwaitingArtifact")
    result = run_cli("approve", "credit-3")
    assert result.code == 0, result.err
    assert "as carol: its gate has not run yet" in result.out
    assert "policy auto: approval is only recorded" in result.out
    assert cluster.get("ModelVersion", "credit-3")["metadata"]["annotations"] == {APPROVED_BY: "carol"}


@pytest.mark.parametrize(
    ("stage", "validated", "reason", "expected"),
    [
        ("rejected", "False", "WorseThanChampion", "was rejected by the gate (WorseThanChampion: delta 0.0"),
        ("champion", "True", "GatePassed", "is already the champion of project credit"),
        ("retired", "True", "GatePassed", "is retired; to serve it again roll back its deployment"),
    ],
)
def test_approve_refuses_and_writes_nothing(
    cluster: Cluster, run_cli: Any, stage: str, validated: str, reason: str, expected: str
) -> None:
    version(cluster, "credit-1", stage, validated, reason)
    before = cluster.get("ModelVersion", "credit-1")
    result = run_cli("approve", "credit-1", "--by", "alice")
    assert result.code == 1
    assert expected in result.err
    assert result.err.startswith("mloop: ModelVersion credit-1 ")
    assert cluster.get("ModelVersion", "credit-1") == before


def test_promote_and_abort_a_canary(cluster: Cluster, run_cli: Any) -> None:
    before = deployment(
        cluster, "credit", stableVersion="credit-1", canaryVersion="credit-2", canaryWeight=10, step=0,
        awaitingApproval=True,
    )  # fmt: skip
    result = run_cli("promote", "credit")
    assert result.code == 0, result.err
    assert result.out.strip() == (
        "promote requested on ModelDeployment credit: the canary credit-2 (10% of traffic, step 1/2) becomes "
        "stable (it is waiting for this approval); credit-1 is kept at zero replicas for rollback"
    )
    after = cluster.get("ModelDeployment", "credit")
    stamp = datetime.fromisoformat(
        after["metadata"]["annotations"]["mloop.io/promote"].replace("Z", "+00:00")
    )
    assert abs(datetime.now(UTC) - stamp) < timedelta(seconds=10)
    assert after["spec"] == before["spec"]
    assert after["status"] == before["status"]

    aborted = run_cli("abort", "credit")
    assert aborted.code == 0
    assert (
        "the canary credit-2 (10% of traffic, step 1/2) is stopped and all traffic returns to credit-1"
        in (aborted.out)
    )
    annotations = cluster.get("ModelDeployment", "credit")["metadata"]["annotations"]
    assert set(annotations) == {"mloop.io/promote", "mloop.io/abort"}


def test_promote_abort_rollback_refuse_without_a_canary_or_a_previous_version(
    cluster: Cluster, run_cli: Any
) -> None:
    before = deployment(cluster, "credit", stableVersion="credit-1")
    for action in ("promote", "abort"):
        result = run_cli(action, "credit")
        assert result.code == 1
        assert result.err.strip() == (
            f"mloop: ModelDeployment credit has no canary in progress (stable: credit-1): nothing to {action}"
        )
    rollback = run_cli("rollback", "credit")
    assert rollback.code == 1
    assert "has no previous stable version to roll back to (credit-1 is the first it served)" in rollback.err
    assert cluster.get("ModelDeployment", "credit") == before


def test_rollback_and_dry_run(cluster: Cluster, run_cli: Any) -> None:
    before = deployment(cluster, "credit", stableVersion="credit-2", previousStableVersion="credit-1")
    dry = run_cli("rollback", "credit", "--dry-run")
    assert dry.code == 0
    assert dry.out.startswith("(dry run) rollback requested on ModelDeployment credit: credit-1 serves again")
    assert cluster.get("ModelDeployment", "credit") == before
    result = run_subprocess("rollback", "credit")  # the console entry point, as a user runs it
    assert result.code == 0, result.err
    assert "credit-1 serves again in place of credit-2" in result.out
    after = cluster.get("ModelDeployment", "credit")
    assert set(after["metadata"]["annotations"]) == {"mloop.io/rollback"}
    assert after["spec"] == before["spec"]


def test_a_conflicting_write_makes_it_decide_again(
    cluster: Cluster, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment(cluster, "credit", stableVersion="credit-1", canaryVersion="credit-2", canaryWeight=10, step=0)
    real = Kube.merge_patch
    calls: list[dict[str, Any]] = []

    def racing(self: Kube, plural: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        calls.append(patch)
        if len(calls) == 1:  # the operator finished the canary between our read and our write
            path = cluster.kube.path("mloop.io/v1alpha1", "ModelDeployment", "default", "credit") + "/status"
            status = {
                "status": {
                    "stableVersion": "credit-2",
                    "canaryVersion": None,
                    "previousStableVersion": "credit-1",
                }
            }
            cluster.kube.request("PATCH", path, status, "application/merge-patch+json")
        return real(self, plural, namespace, name, patch)

    monkeypatch.setattr(Kube, "merge_patch", racing)
    result = run_cli("promote", "credit")
    assert result.code == 1
    assert "has no canary in progress (stable: credit-2)" in result.err
    assert len(calls) == 1
    assert "annotations" not in cluster.get("ModelDeployment", "credit")["metadata"]


def test_api_errors_other_than_conflict_are_reported(
    monkeypatch: pytest.MonkeyPatch, cluster: Cluster, run_cli: Any
) -> None:
    deployment(cluster, "credit", stableVersion="credit-1", previousStableVersion="credit-0")

    def forbidden(*_: Any) -> dict[str, Any]:
        raise ApiError(422, "Invalid", "metadata.annotations: Invalid value")

    monkeypatch.setattr(Kube, "merge_patch", forbidden)
    result = run_cli("rollback", "credit")
    assert (result.code, result.err.strip()) == (1, "mloop: metadata.annotations: Invalid value")
