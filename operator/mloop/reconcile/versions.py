"""ModelVersion decisions: artifact verification, the gate (evaluated once), approval and the stage.

Stages: ``candidate`` until judged; ``rejected`` when the gate fails; ``champion`` once the project names it;
``retired`` when a later version replaces it. The gate verdict is frozen once reached, so a version judged
against yesterday's champion is not re-judged against today's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mloop.api.modelversion import Approval, Gate, ModelVersion, ModelVersionStatus
from mloop.reconcile.conditions import Verdict, aggregate_ready, set_condition
from mloop.reconcile.gate import ChampionScore, GatePolicy, evaluate_gate

__all__ = ["APPROVED_BY", "VersionFacts", "VersionPlan", "champion_score", "plan_version"]

APPROVED_BY = "mloop.io/approved-by"


@dataclass(frozen=True)
class VersionFacts:
    """What the orchestration observed: the artifact check, the project's champion and policy, approval."""

    artifact: Verdict
    project_champion: str | None
    policy: Literal["auto", "manual"]
    approved_by: str | None = None


@dataclass(frozen=True)
class VersionPlan:
    """The status to write, and whether to ask the project to make this version its champion."""

    status: ModelVersionStatus
    promote: bool


def champion_score(
    version: ModelVersion, project_champion: str | None, primary_metric: str
) -> ChampionScore | None:
    """The champion's score on this version's test set, if the trainer re-scored that very champion."""
    if project_champion is None or project_champion == version.metadata.name:
        return None
    metrics = version.spec.metrics
    if metrics.champion_name == project_champion:
        return ChampionScore(project_champion, metrics.champion.get(primary_metric))
    return ChampionScore(project_champion, None)


def _gate_message(gate: Gate, version: ModelVersion) -> str:
    if gate.verdict == "passed":
        return "KPIs met, baseline beaten" + (
            f", champion {gate.champion.name} beaten" if gate.champion and gate.champion.name else ""
        )
    if gate.reason == "BelowKPI":
        missed = [f"{k.metric}={k.value} (needs {k.op} {k.threshold})" for k in gate.kpis if not k.passed]
        return "KPI not met: " + (", ".join(missed) or "primary metric missing")
    if gate.reason == "WorseThanBaseline" and gate.baseline:
        base = gate.baseline
        return f"{base.metric}: no better than the baseline ({base.value}), delta {base.delta}"
    if gate.reason == "WorseThanChampion" and gate.champion:
        if gate.champion.value is None:
            return (
                f"champion {gate.champion.name} was not re-scored on this version's test set "
                f"(it changed during training, or its signature differs); retrain to compare"
            )
        return f"delta {gate.champion.delta} over champion {gate.champion.name} is below minImprovement"
    if gate.reason == "SliceGap":
        worst = max(gate.slice_gaps, key=lambda g: g.gap)
        return f"slice {worst.column}={worst.value} is {worst.gap:.4f} below the overall metric"
    return str(gate.reason)


def plan_version(
    previous: ModelVersionStatus,
    version: ModelVersion,
    policy: GatePolicy,
    facts: VersionFacts,
    *,
    generation: int | None,
    now: datetime,
) -> VersionPlan:
    """Decide the version's conditions and stage; ``promote`` asks the orchestration to crown it."""
    name = version.metadata.name
    conditions = set_condition(previous.conditions, facts.artifact, generation=generation, now=now)
    update: dict[str, Any] = {"observed_generation": generation, "primary_metric": policy.primary_metric}
    update["primary_metric_value"] = version.spec.metrics.test.get(policy.primary_metric)

    gate = previous.gate
    if facts.artifact.status == "True" and (gate is None or gate.verdict == "pending"):
        gate = evaluate_gate(
            policy,
            test=version.spec.metrics.test,
            baseline=version.spec.metrics.baseline,
            slices=version.spec.metrics.slices,
            champion=champion_score(version, facts.project_champion, policy.primary_metric),
            now=now,
        )
    if gate is None:
        validated = Verdict(
            "Validated", "Unknown", "AwaitingArtifact", "the gate runs once the artifact is verified"
        )
    elif gate.verdict == "passed":
        validated = Verdict("Validated", "True", "GatePassed", _gate_message(gate, version))
    else:
        validated = Verdict("Validated", "False", gate.reason or "GateFailed", _gate_message(gate, version))
    conditions = set_condition(conditions, validated, generation=generation, now=now)

    approval = previous.approval
    if facts.approved_by and approval is None:
        approval = Approval(approved_by=facts.approved_by, time=now)
    if facts.policy == "manual":
        approved = (
            Verdict("Approved", "True", "Approved", f"approved by {approval.approved_by}")
            if approval
            else Verdict(
                "Approved", "False", "AwaitingApproval", f"annotate with {APPROVED_BY}=<name> to promote"
            )
        )
        conditions = set_condition(conditions, approved, generation=generation, now=now)

    stage = previous.stage or "candidate"
    promote = False
    if facts.project_champion == name:
        stage = "champion"
        update["promoted_at"] = previous.promoted_at or now
    elif previous.stage in ("champion", "retired"):
        stage = "retired"
        update["retired_at"] = previous.retired_at or now
    elif gate is not None and gate.verdict == "failed":
        stage = "rejected"
    elif gate is not None and gate.verdict == "passed":
        promote = facts.policy == "auto" or approval is not None

    ready = aggregate_ready([facts.artifact, validated])
    if stage == "retired":
        ready = Verdict("Ready", "True", "Retired", "replaced by a newer champion; kept for rollback")
    conditions = set_condition(conditions, ready, generation=generation, now=now)
    update.update(conditions=conditions, stage=stage, gate=gate, approval=approval, phase=stage.capitalize())
    return VersionPlan(previous.model_copy(update=update), promote)
