"""ModelDeployment orchestration: resolve the version, run the canary, promote or roll back, write status.

Each reconcile observes (children, pods' metrics), asks ``plan_rollout`` what to do, applies it to the
per-version Deployments, and records the outcome; the next look is scheduled for the step's pause or the
analysis interval, whichever comes first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mloop.api.common import parse_duration
from mloop.api.mlproject import MLProject
from mloop.api.modeldeployment import AnalysisStatus, HistoryEntry, ModelDeployment, ModelDeploymentStatus
from mloop.api.modelversion import ModelVersion
from mloop.controller.clock import utcnow
from mloop.controller.deps import Dependencies
from mloop.controller.errors import RetryLater
from mloop.controller.resources import (
    HTTPROUTES,
    MLPROJECTS,
    MODELDEPLOYMENTS,
    MODELVERSIONS,
    PODS,
)
from mloop.controller.serving import converge_serving, observe_serving
from mloop.controller.status import commit_status, locked_fresh
from mloop.k8s import ApiNotFound
from mloop.k8s.scrape import scrape_all
from mloop.reconcile.canary import (
    AnalysisResult,
    Decision,
    RolloutState,
    analyse,
    plan_rollout,
)
from mloop.reconcile.conditions import Verdict, set_condition
from mloop.reconcile.promtext import track_metrics
from mloop.reconcile.serving import (
    SERVER_PORT,
)
from mloop.reconcile.traffic import gateway_unavailable, hold_rollout, uses_gateway

__all__ = ["MANUAL_ACTIONS", "sync_deployments_of_project", "sync_modeldeployment"]

MANUAL_ACTIONS = ("promote", "abort", "rollback")


async def sync_modeldeployment(body: Mapping[str, Any], deps: Dependencies) -> None:
    async with locked_fresh(deps, MODELDEPLOYMENTS, body) as fresh:
        if fresh is None:
            return
        old = ModelDeploymentStatus.model_validate(fresh.get("status") or {})
        new, delay = await _reconcile(fresh, old, deps, now=utcnow())
        await commit_status(deps, MODELDEPLOYMENTS, fresh, old, new, kind="ModelDeployment")
    if delay is not None:
        raise RetryLater("rollout in progress", delay=delay)


async def _reconcile(
    body: Mapping[str, Any], old: ModelDeploymentStatus, deps: Dependencies, *, now: datetime
) -> tuple[ModelDeploymentStatus, float | None]:
    generation = body["metadata"].get("generation")
    try:
        md = ModelDeployment.model_validate(body)
    except ValidationError as exc:
        return _ready(old, Verdict("Ready", "False", "InvalidSpec", str(exc)), generation, now), None
    namespace = md.metadata.namespace or "default"
    try:
        project = MLProject.model_validate(
            await deps.kube.get(MLPROJECTS, namespace, md.spec.project_ref.name)
        )
    except ApiNotFound:
        verdict = Verdict(
            "Ready", "False", "ProjectNotFound", f"MLProject {md.spec.project_ref.name} not found"
        )
        return _ready(old, verdict, generation, now), deps.settings.backoff_max_seconds
    target, problem = await _resolve_target(md, project, deps)
    # Discovery, not a 404 on the route: an uninstalled CRD must not read as "no route yet".
    route_ready = not uses_gateway(md) or await deps.kube.serves(HTTPROUTES)

    manual = _manual_requests(md, old)
    analysis = await _analyse(md, old, deps, now)
    state = RolloutState(
        stable=old.stable_version,
        canary=old.canary_version,
        step=old.step,
        step_start=old.step_start_time,
        failures=old.analysis.failures if old.analysis else 0,
        awaiting_approval=old.awaiting_approval,
        previous_stable=old.previous_stable_version,
        blocked=old.blocked_version,
    )
    planned = plan_rollout(
        state,
        target=target,
        steps=md.spec.canary.steps,
        approval=md.spec.canary.approval,
        analysis=analysis,
        failure_limit=md.spec.canary.analysis.failure_limit,
        manual=manual,
        now=now,
    )
    decision = hold_rollout(planned, route_ready=route_ready)
    status = _apply_decision(old, md, decision, analysis=analysis, target=target, now=now)
    # Every request is answered once: acted on, or dropped when it does not apply (promote with no canary).
    status = status.model_copy(update={"handled_actions": {**old.handled_actions, **_handled(md, manual)}})
    route = await converge_serving(body, md, project, status, deps, route_ready=route_ready)
    status = await observe_serving(md, status, deps, route=route)
    status = _conditions(status, problem, decision, generation, now, route_ready=route_ready)
    delay = None
    if status.canary_version:
        interval = parse_duration(md.spec.canary.analysis.interval).total_seconds()
        delay = max(1.0, interval)
    return status, delay


async def _resolve_target(
    md: ModelDeployment, project: MLProject, deps: Dependencies
) -> tuple[str | None, str]:
    """The version to serve; a version that is not verified and validated is refused (the stable stays)."""
    name = md.spec.model.version_ref.name if md.spec.model.version_ref else project.status.champion
    if not name:
        return None, "the project has no champion yet"
    try:
        version = ModelVersion.model_validate(await deps.kube.get(MODELVERSIONS, md.metadata.namespace, name))
    except ApiNotFound:
        return None, f"ModelVersion {name} not found"
    conditions = {c.type: c.status for c in version.status.conditions}
    if conditions.get("ArtifactVerified") != "True" or conditions.get("Validated") != "True":
        return None, f"ModelVersion {name} is not ArtifactVerified and Validated"
    return name, ""


def _manual_requests(md: ModelDeployment, status: ModelDeploymentStatus) -> frozenset[str]:
    """Annotations whose value has not been acted on yet (the value is a timestamp or a token)."""
    requests = set()
    for action in MANUAL_ACTIONS:
        value = md.metadata.annotations.get(f"mloop.io/{action}")
        if value and status.handled_actions.get(action) != value:
            requests.add(action)
    return frozenset(requests)


def _handled(md: ModelDeployment, actions: frozenset[str]) -> dict[str, str]:
    return {
        a: md.metadata.annotations[f"mloop.io/{a}"]
        for a in actions
        if f"mloop.io/{a}" in md.metadata.annotations
    }


async def _analyse(
    md: ModelDeployment, status: ModelDeploymentStatus, deps: Dependencies, now: datetime
) -> AnalysisResult | None:
    """One analysis per interval while a canary runs, from the pods' own metrics."""
    if not status.canary_version or not status.stable_version:
        return None
    interval = parse_duration(md.spec.canary.analysis.interval)
    last = status.analysis.time if status.analysis else None
    if last is not None and now - last < interval:
        return None
    namespace = md.metadata.namespace or "default"

    async def texts(version: str) -> list[str]:
        selector = f"mloop.io/deployment={md.metadata.name},mloop.io/version={version}"
        pods = await deps.kube.list(PODS, namespace, label_selector=selector)
        ips = [p["status"]["podIP"] for p in pods if p.get("status", {}).get("podIP")]
        return await scrape_all(ips, port=SERVER_PORT)

    canary = track_metrics(await texts(status.canary_version))
    stable = track_metrics(await texts(status.stable_version))
    return analyse(canary, stable, md.spec.canary.analysis)


def _apply_decision(
    old: ModelDeploymentStatus,
    md: ModelDeployment,
    decision: Decision,
    *,
    analysis: AnalysisResult | None,
    target: str | None,
    now: datetime,
) -> ModelDeploymentStatus:
    """The rollout state after ``decision``; children are converged from it afterwards."""
    steps = md.spec.canary.steps
    failures = old.analysis.failures if old.analysis else 0
    if analysis is not None and analysis.passed is False:
        failures += 1
    update: dict[str, Any] = {"target_version": target}
    if analysis is not None:
        update["analysis"] = AnalysisStatus(
            time=now,
            requests=analysis.requests,
            error_rate=analysis.error_rate,
            latency_p95_ms=analysis.latency_p95_ms,
            prediction_shift=analysis.prediction_shift,
            failures=failures,
            passed=analysis.passed,
        )
    history = list(old.history)
    action = decision.action
    if action == "deploy":
        update.update(stable_version=target, canary_version=None, canary_weight=0, step=None)
    elif action == "start":
        update.update(
            canary_version=target,
            step=0,
            step_start_time=now,
            canary_weight=steps[0].weight,
            awaiting_approval=False,
            analysis=AnalysisStatus(time=now, failures=0),
        )
    elif action == "advance":
        step = decision.step or 0
        update.update(step=step, step_start_time=now, canary_weight=steps[step].weight)
    elif action == "await-approval":
        update.update(awaiting_approval=True)
    elif action == "promote":
        history.append(
            HistoryEntry(
                time=now,
                action="promoted",
                from_version=old.stable_version,
                to_version=old.canary_version,
                reason=decision.reason,
            )
        )
        update.update(
            stable_version=old.canary_version,
            previous_stable_version=old.stable_version,
            canary_version=None,
            canary_weight=0,
            step=None,
            step_start_time=None,
            awaiting_approval=False,
            blocked_version=None,
        )
    elif action == "rollback":
        kind = "aborted" if decision.reason == "ManualAbort" else "rolledBack"
        history.append(
            HistoryEntry(
                time=now,
                action=kind,
                from_version=old.canary_version,
                to_version=old.stable_version,
                reason=decision.reason,
            )
        )
        blocked = None if decision.reason == "Superseded" else old.canary_version
        update.update(
            canary_version=None,
            canary_weight=0,
            step=None,
            step_start_time=None,
            awaiting_approval=False,
            blocked_version=blocked,
        )
    elif action == "revert":
        history.append(
            HistoryEntry(
                time=now,
                action="rolledBack",
                from_version=old.stable_version,
                to_version=old.previous_stable_version,
                reason=decision.reason,
            )
        )
        update.update(
            stable_version=old.previous_stable_version,
            previous_stable_version=old.stable_version,
            blocked_version=old.stable_version,
        )
    update["history"] = history[-50:]
    return old.model_copy(update=update)


def _ready(
    status: ModelDeploymentStatus, verdict: Verdict, generation: int | None, now: datetime
) -> ModelDeploymentStatus:
    return status.model_copy(
        update={
            "observed_generation": generation,
            "conditions": set_condition(status.conditions, verdict, generation=generation, now=now),
        }
    )


def _conditions(
    status: ModelDeploymentStatus,
    problem: str,
    decision: Decision,
    generation: int | None,
    now: datetime,
    *,
    route_ready: bool,
) -> ModelDeploymentStatus:
    available = status.ready_replicas > 0
    verdicts = [
        Verdict(
            "Available",
            "True" if available else "False",
            "ReplicasReady" if available else "NoReadyReplicas",
            f"{status.ready_replicas} ready server pod(s)",
        ),
        Verdict(
            "Progressing",
            "True" if status.canary_version else "False",
            "CanaryRunning" if status.canary_version else "Settled",
            f"canary {status.canary_version} at {status.canary_weight}%" if status.canary_version else "",
        ),
    ]
    last = status.history[-1] if status.history else None
    degraded = last is not None and last.action == "rolledBack" and last.reason not in ("ManualRollback",)
    verdicts.append(
        Verdict(
            "Degraded",
            "True" if degraded else "False",
            last.reason if degraded and last else "Healthy",
            f"rolled back {last.from_version}: {last.reason}" if degraded and last else "",
        )
    )
    if not route_ready:
        ready = gateway_unavailable()
    elif not status.stable_version:
        ready = Verdict("Ready", "False", "NoVersion", problem or "waiting for a version to serve")
    elif not available:
        ready = Verdict("Ready", "False", "NoReadyReplicas", f"{status.stable_version} has no ready pod yet")
    else:
        ready = Verdict(
            "Ready",
            "True",
            "Serving",
            f"serving {status.stable_version}" + (f"; {problem}" if problem else ""),
        )
    conditions = status.conditions
    for verdict in (*verdicts, ready):
        conditions = set_condition(conditions, verdict, generation=generation, now=now)
    phase = "Progressing" if status.canary_version else ("Serving" if available else "Pending")
    return status.model_copy(
        update={"observed_generation": generation, "conditions": conditions, "phase": phase}
    )


async def sync_deployments_of_project(project: Mapping[str, Any], deps: Dependencies) -> None:
    """A new champion ships with no spec change: reconcile the project's ``alias: champion`` deployments."""
    champion = (project.get("status") or {}).get("champion")
    namespace, name = project["metadata"].get("namespace"), project["metadata"]["name"]
    for body in await deps.kube.list(MODELDEPLOYMENTS, namespace):
        spec = body.get("spec", {})
        target = (body.get("status") or {}).get("targetVersion")
        ours = (
            spec.get("projectRef", {}).get("name") == name
            and spec.get("model", {}).get("alias") == "champion"
        )
        if ours and champion and champion != target:
            with contextlib.suppress(RetryLater):
                await sync_modeldeployment(body, deps)
