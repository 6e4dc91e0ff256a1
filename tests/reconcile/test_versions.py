"""ModelVersion stages: verified → gated once → champion (auto or approved) / rejected → retired."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from mloop.api.mlproject import Kpi
from mloop.api.modelversion import ModelVersion, ModelVersionStatus
from mloop.reconcile.conditions import Verdict
from mloop.reconcile.gate import GatePolicy
from mloop.reconcile.versions import VersionFacts, champion_score, plan_version

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
VERIFIED = Verdict("ArtifactVerified", "True", "ChecksumMatched", "sha256 ok")
MISMATCH = Verdict("ArtifactVerified", "False", "ChecksumMismatch", "sha256 differs")
POLICY = GatePolicy(primary_metric="roc_auc", kpis=(Kpi(metric="roc_auc", min=0.75),), min_improvement=0.005)


def version(name: str = "credit-2", **metrics: Any) -> ModelVersion:
    body = yaml.safe_load((ROOT / "examples" / "modelversion.yaml").read_text())
    body["metadata"]["name"] = name
    body["spec"]["metrics"].update(metrics)
    return ModelVersion.model_validate(body)


def conds(status: ModelVersionStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def step(v: ModelVersion, facts: VersionFacts, previous: ModelVersionStatus | None = None, later: int = 0):  # type: ignore[no-untyped-def]
    return plan_version(
        previous or ModelVersionStatus(), v, POLICY, facts, generation=1, now=NOW + timedelta(minutes=later)
    )


def test_first_version_passes_and_asks_to_be_promoted_then_is_champion() -> None:
    v = version()
    plan = step(v, VersionFacts(VERIFIED, project_champion=None, policy="auto"))
    assert plan.promote
    assert plan.status.stage == "candidate"
    assert conds(plan.status)["Validated"] == ("True", "GatePassed")
    assert conds(plan.status)["Ready"] == ("True", "Ready")
    crowned = step(
        v, VersionFacts(VERIFIED, project_champion="credit-2", policy="auto"), plan.status, later=1
    )
    assert (crowned.promote, crowned.status.stage, crowned.status.promoted_at) == (
        False,
        "champion",
        NOW + timedelta(minutes=1),
    )


def test_unverified_artifact_is_never_gated_or_promoted() -> None:
    plan = step(version(), VersionFacts(MISMATCH, project_champion=None, policy="auto"))
    assert not plan.promote
    assert plan.status.gate is None
    assert conds(plan.status)["Ready"] == ("False", "ChecksumMismatch")
    assert conds(plan.status)["Validated"][0] == "Unknown"


def test_worse_than_champion_is_rejected_with_the_delta() -> None:
    v = version(champion={"roc_auc": 0.83}, champion_name="credit-1")
    plan = step(v, VersionFacts(VERIFIED, project_champion="credit-1", policy="auto"))
    assert (plan.promote, plan.status.stage) == (False, "rejected")
    assert conds(plan.status)["Validated"] == ("False", "WorseThanChampion")
    assert plan.status.gate is not None
    assert plan.status.gate.champion is not None
    assert plan.status.gate.champion.value == 0.83


def test_champion_changed_during_training_is_not_comparable() -> None:
    v = version(champion={"roc_auc": 0.5}, champion_name="credit-0")
    plan = step(v, VersionFacts(VERIFIED, project_champion="credit-1", policy="auto"))
    assert plan.status.stage == "rejected"
    validated = plan.status.condition("Validated")
    assert validated is not None
    assert "changed during training" in validated.message


def test_manual_policy_waits_for_approval() -> None:
    v = version()
    waiting = step(v, VersionFacts(VERIFIED, project_champion=None, policy="manual"))
    assert not waiting.promote
    assert conds(waiting.status)["Approved"] == ("False", "AwaitingApproval")
    approved = step(v, VersionFacts(VERIFIED, None, "manual", approved_by="alice"), waiting.status, later=5)
    assert approved.promote
    assert approved.status.approval is not None
    assert (approved.status.approval.approved_by, approved.status.approval.time) == (
        "alice",
        NOW + timedelta(minutes=5),
    )
    assert conds(approved.status)["Approved"] == ("True", "Approved")


def test_the_gate_is_frozen_once_decided() -> None:
    v = version(champion={"roc_auc": 0.70}, champion_name="credit-1")
    first = step(v, VersionFacts(VERIFIED, project_champion="credit-1", policy="manual"))
    assert first.status.gate is not None
    assert first.status.gate.verdict == "passed"
    # A better champion arrives before approval: the recorded verdict stands.
    later = step(
        v, VersionFacts(VERIFIED, project_champion="credit-9", policy="manual"), first.status, later=3
    )
    assert later.status.gate == first.status.gate


def test_champion_replaced_becomes_retired_and_stays_ready() -> None:
    v = version("credit-1")
    champ = step(v, VersionFacts(VERIFIED, project_champion="credit-1", policy="auto")).status
    retired = step(v, VersionFacts(VERIFIED, project_champion="credit-2", policy="auto"), champ, later=9)
    assert retired.status.stage == "retired"
    assert retired.status.retired_at == NOW + timedelta(minutes=9)
    assert conds(retired.status)["Ready"] == ("True", "Retired")


def test_champion_score_lookup() -> None:
    v = version(champion={"roc_auc": 0.8}, champion_name="credit-1")
    assert champion_score(v, None, "roc_auc") is None
    assert champion_score(v, "credit-2", "roc_auc") is None  # it is the champion itself
    score = champion_score(v, "credit-1", "roc_auc")
    assert score is not None
    assert score.value == 0.8
