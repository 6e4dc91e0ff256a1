"""DriftMonitor orchestration: one Job per window, its report folded into status, retraining on alerts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mloop.api.common import parse_duration
from mloop.api.driftmonitor import DriftMonitor, DriftMonitorStatus
from mloop.api.mlproject import MLProject
from mloop.api.modelversion import ModelVersion
from mloop.artifacts import ArtifactError
from mloop.controller.clock import utcnow
from mloop.controller.deps import Dependencies
from mloop.controller.errors import RetryLater
from mloop.controller.resources import (
    DRIFTMONITORS,
    JOBS,
    MLPROJECTS,
    MODELDEPLOYMENTS,
    MODELVERSIONS,
    PODS,
    TRAININGRUNS,
)
from mloop.controller.status import commit_status, locked_fresh, record_event
from mloop.controller.storage import MissingCredentialsError, s3_access_for, store_for
from mloop.k8s import AlreadyExists, ApiNotFound, ObjectRef
from mloop.reconcile.conditions import Verdict, set_condition
from mloop.reconcile.drift import (
    Window,
    adopt_retrain_run,
    apply_failed_check,
    apply_report,
    build_drift_job,
    current_window,
    data_digest,
    drift_job_name,
    monitor_ready,
    report_unreadable,
    retrain_feedback,
    retrain_run,
    should_retrain,
    started_check,
    unfinished_check,
)
from mloop.reconcile.runs import observe_job
from mloop.reconcile.training import feedback_log_prefixes, project_prefix

__all__ = ["sync_driftmonitor"]


async def sync_driftmonitor(body: Mapping[str, Any], deps: Dependencies) -> None:
    async with locked_fresh(deps, DRIFTMONITORS, body) as fresh:
        if fresh is None:
            return
        old = DriftMonitorStatus.model_validate(fresh.get("status") or {})
        new, delay = await _reconcile(fresh, old, deps, now=utcnow())
        await commit_status(deps, DRIFTMONITORS, fresh, old, new, kind="DriftMonitor")
        await _drift_events(deps, fresh, old, new)
    raise RetryLater("next drift window", delay=delay)


def _blocked(
    status: DriftMonitorStatus, reason: str, message: str, gen: int | None, now: datetime
) -> DriftMonitorStatus:
    conditions = set_condition(
        status.conditions, Verdict("Ready", "False", reason, message), generation=gen, now=now
    )
    return status.model_copy(
        update={"observed_generation": gen, "conditions": conditions, "phase": "Waiting"}
    )


async def _reconcile(
    body: Mapping[str, Any], old: DriftMonitorStatus, deps: Dependencies, *, now: datetime
) -> tuple[DriftMonitorStatus, float]:
    gen = body["metadata"].get("generation")
    retry = deps.settings.backoff_max_seconds
    try:
        monitor = DriftMonitor.model_validate(body)
    except ValidationError as exc:
        return _blocked(old, "InvalidSpec", str(exc), gen, now), retry
    namespace = monitor.metadata.namespace or "default"
    try:
        deployment = await deps.kube.get(MODELDEPLOYMENTS, namespace, monitor.spec.deployment_ref.name)
        project = MLProject.model_validate(
            await deps.kube.get(MLPROJECTS, namespace, deployment["spec"]["projectRef"]["name"])
        )
    except ApiNotFound as exc:
        return _blocked(old, "DeploymentNotFound", str(exc), gen, now), retry
    serving = (deployment.get("status") or {}).get("stableVersion")
    if not serving:
        return _blocked(old, "NothingServed", "the deployment serves no version yet", gen, now), 10.0
    version = ModelVersion.model_validate(await deps.kube.get(MODELVERSIONS, namespace, serving))

    window = current_window(monitor, now)
    job_name = drift_job_name(monitor.metadata.name or "", window)
    status = old
    earlier = unfinished_check(old, window)
    if earlier is not None:  # a check that outlasted its interval is read to the end first
        earlier_job, earlier_window = earlier
        status = await _check_window(
            body, monitor, project, version, earlier_window, earlier_job, old, deps, now
        )
    if unfinished_check(status, window) is None and status.last_check_job != job_name:
        status = await _check_window(body, monitor, project, version, window, job_name, status, deps, now)
    status = await _maybe_retrain(body, monitor, project, status, deps, now)
    status = await _retrain_outcome(status, namespace, deps)
    status = _conditions(status, gen, now)
    next_end = (window.end - now).total_seconds() + _interval_seconds(monitor)
    delay = 2.0 if status.last_check_job != job_name else max(1.0, next_end + 1.0)
    return status, delay


def _interval_seconds(monitor: DriftMonitor) -> float:
    return parse_duration(monitor.spec.schedule.interval).total_seconds()


async def _check_window(  # noqa: PLR0917 - one call site, every argument is a different observed fact
    body: Mapping[str, Any],
    monitor: DriftMonitor,
    project: MLProject,
    version: ModelVersion,
    window: Window,
    job_name: str,
    status: DriftMonitorStatus,
    deps: Dependencies,
    now: datetime,
) -> DriftMonitorStatus:
    """Start the window's Job if it is not there; fold its report in once it has finished."""
    namespace = monitor.metadata.namespace or "default"
    try:
        job = await deps.kube.get(JOBS, namespace, job_name)
    except ApiNotFound:
        manifest = build_drift_job(
            body,
            project,
            version,
            window,
            deployment=monitor.spec.deployment_ref.name,
            image=deps.settings.drift_image,
            s3=s3_access_for(project, deps),
        )
        with contextlib.suppress(AlreadyExists):
            await deps.kube.create(JOBS, namespace, manifest)
        return status.model_copy(update={"active_check": started_check(job_name, window)})
    pods = await deps.kube.list(PODS, namespace, label_selector=f"job-name={job_name}")
    observed = observe_job(job, pods)
    if observed.state not in ("succeeded", "failed"):
        return status
    gen, version_name = body["metadata"].get("generation"), version.metadata.name or ""
    prefix = project_prefix(project.spec.storage.bucket, namespace, project.metadata.name or "")
    report_uri = f"{prefix}drift/{monitor.metadata.name}/{window.id}/report.json"
    report: dict[str, Any] | None = None
    reason, message = "ReportUnreadable", f"{report_uri}: not a JSON object"
    if observed.state == "failed":  # no report: say why, never read it as "no drift"
        summary = observed.termination or {}
        reason = str(summary.get("reason") or observed.reason or "CheckFailed")
        message = str(summary.get("message") or observed.message or f"Job {job_name} failed")
    else:
        try:
            store = await store_for(project, deps)
            loaded = json.loads(await asyncio.to_thread(store.get_bytes, report_uri))
            report = loaded if isinstance(loaded, dict) else None
        except (ArtifactError, MissingCredentialsError) as exc:
            reason = exc.reason if isinstance(exc, ArtifactError) else "CredentialsNotFound"
            if not isinstance(exc, ArtifactError) or exc.transient:  # read it again, never lose a verdict
                return report_unreadable(
                    status, job=job_name, reason=reason, message=str(exc), now=now, generation=gen
                )
            message = str(exc)
        except ValueError as exc:
            message = f"{report_uri}: {exc}"
    if report is None:
        return apply_failed_check(
            status,
            job=job_name,
            version=version_name,
            reason=reason,
            message=message,
            now=now,
            generation=gen,
        )
    report.setdefault("reportUri", report_uri)
    new = apply_report(status, report, job=job_name, version=version_name, now=now, generation=gen)
    _export_metrics(deps, monitor.metadata.name or "", report, new.drifted)
    return new


def _export_metrics(deps: Dependencies, monitor: str, report: Mapping[str, Any], drifted: bool) -> None:
    for feature in report.get("features") or []:
        if feature.get("pValue") is not None:
            deps.metrics.drift_p_value.labels(monitor, str(feature["name"])).set(float(feature["pValue"]))
    deps.metrics.drift_detected.labels(monitor).set(1.0 if drifted else 0.0)


async def _maybe_retrain(  # noqa: PLR0917 - one call site, every argument a different fact
    body: Mapping[str, Any],
    monitor: DriftMonitor,
    project: MLProject,
    status: DriftMonitorStatus,
    deps: Dependencies,
    now: datetime,
) -> DriftMonitorStatus:
    """On an alert, create the TrainingRun for the data as it is now (one per monitor and data digest)."""
    if (
        status.consecutive_drift_windows < monitor.spec.alert.consecutive_windows
        or not monitor.spec.action.retrain
    ):
        return status
    namespace = monitor.metadata.namespace or "default"
    try:
        store = await store_for(project, deps)
        source = project.spec.data.source.uri
        listing = await asyncio.to_thread(store.list, source)  # an object or a prefix of partitions
        if retrain_feedback(project, monitor.spec.deployment_ref.name) is not None:  # new labels: new data
            prefix = project_prefix(project.spec.storage.bucket, namespace, project.metadata.name or "")
            labels = feedback_log_prefixes(prefix, monitor.spec.deployment_ref.name)[1]
            listing += await asyncio.to_thread(store.list, labels)
    except (ArtifactError, MissingCredentialsError):
        return status
    digest = data_digest([(o.uri, o.size) for o in listing])
    runs = await deps.kube.list(
        TRAININGRUNS, namespace, label_selector=f"mloop.io/project={project.metadata.name}"
    )
    run = retrain_run(body, project, status, data_digest=digest)
    existing = next((r for r in runs if r["metadata"]["name"] == run["metadata"]["name"]), None)
    adopted = adopt_retrain_run(status, existing, project, data_digest=digest)
    if adopted is not None:  # created by an attempt that died before writing the status
        if adopted.cooldown_from is not None:
            await _start_cooldown(deps, project, adopted.cooldown_from)
        return adopted.status
    active = sum(1 for r in runs if (r.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
    decided, _ = should_retrain(status, monitor, project, data_digest=digest, active_runs=active, now=now)
    if not decided:
        return status
    with contextlib.suppress(AlreadyExists):
        await deps.kube.create(TRAININGRUNS, namespace, run)
    await _start_cooldown(deps, project, now)
    await record_event(deps, ObjectRef.of(body), "Normal", "RetrainingStarted", run["spec"]["reason"])
    return status.model_copy(
        update={"last_retrain_run": run["metadata"]["name"], "last_retrain_data_digest": digest}
    )


async def _start_cooldown(deps: Dependencies, project: MLProject, since: datetime) -> None:
    """The project's ``lastRetrainTime``: every monitor of the project waits out the cooldown from it."""
    meta = project.metadata
    await deps.kube.patch(
        MLPROJECTS,
        meta.namespace or "default",
        meta.name or "",
        {"status": {"lastRetrainTime": since.strftime("%Y-%m-%dT%H:%M:%SZ")}},
        subresource="status",
    )


async def _retrain_outcome(
    status: DriftMonitorStatus, namespace: str, deps: Dependencies
) -> DriftMonitorStatus:
    """Say in the monitor whether the retrained model made it: a failed gate leaves the champion serving."""
    if not status.last_retrain_run:
        return status
    try:
        run = await deps.kube.get(TRAININGRUNS, namespace, status.last_retrain_run)
    except ApiNotFound:
        return status
    run_status = run.get("status") or {}
    version_name = run_status.get("modelVersion")
    if run_status.get("phase") == "Failed":
        verdict = Verdict("Retrained", "False", "TrainingFailed", f"{status.last_retrain_run} failed")
    elif not version_name:
        verdict = Verdict("Retrained", "Unknown", "Training", f"{status.last_retrain_run} is running")
    else:
        version = await deps.kube.get(MODELVERSIONS, namespace, version_name)
        stage = (version.get("status") or {}).get("stage")
        if stage in ("champion", "retired"):
            verdict = Verdict(
                "Retrained", "True", "Promoted", f"{version_name} passed the gate and is champion"
            )
        elif stage == "rejected":
            reason = next(
                (
                    c.get("reason")
                    for c in version["status"].get("conditions", [])
                    if c.get("type") == "Validated"
                ),
                "GateFailed",
            )
            verdict = Verdict(
                "Retrained",
                "False",
                str(reason),
                f"{version_name} failed the gate; the champion keeps serving",
            )
        else:
            verdict = Verdict("Retrained", "Unknown", "Gating", f"{version_name} is being judged")
    return status.model_copy(
        update={"conditions": set_condition(status.conditions, verdict, generation=None, now=utcnow())}
    )


def _conditions(status: DriftMonitorStatus, gen: int | None, now: datetime) -> DriftMonitorStatus:
    drifted = status.drifted
    features = ", ".join(f.name for f in status.drifted_features[:5])
    verdicts = [
        Verdict(
            "Drifted",
            "True" if drifted else "False",
            "DriftDetected" if drifted else "NoDrift",
            f"drifted: {features}" if drifted else "",
        ),
        Verdict(
            "Healthy",
            "False" if drifted else "True",
            "DriftDetected" if drifted else "NoDrift",
            f"{status.consecutive_drift_windows} drifted window(s) in a row",
        ),
        monitor_ready(status),
    ]
    conditions = status.conditions
    for verdict in verdicts:
        conditions = set_condition(conditions, verdict, generation=gen, now=now)
    phase = "Drifted" if drifted else "Watching"
    return status.model_copy(update={"observed_generation": gen, "conditions": conditions, "phase": phase})


async def _drift_events(
    deps: Dependencies, body: Mapping[str, Any], old: DriftMonitorStatus, new: DriftMonitorStatus
) -> None:
    """One Event on each transition between drifted and not drifted."""
    if old.last_check_time is not None and old.drifted == new.drifted:
        return
    if old.last_check_time is None and not new.drifted:
        return
    features = ", ".join(f"{f.name} (p={f.p_value:.2g})" for f in new.drifted_features[:5])
    if new.drifted:
        await record_event(deps, ObjectRef.of(body), "Warning", "DriftDetected", f"drift in {features}")
    else:
        await record_event(deps, ObjectRef.of(body), "Normal", "DriftCleared", "no drift in the last window")
