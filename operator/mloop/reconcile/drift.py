"""DriftMonitor decisions: which window to check, the drift Job, reading its verdict, and when to retrain.

Windows are aligned to the schedule (``[end - duration, end)``, ``end`` a multiple of the interval since the
epoch), so every window has one deterministic Job name and a restarted operator never checks one twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mloop.api.common import parse_duration
from mloop.api.driftmonitor import ActiveCheck, DriftedFeature, DriftMonitor, DriftMonitorStatus
from mloop.api.mlproject import MLProject
from mloop.api.modelversion import ModelVersion
from mloop.reconcile.conditions import Verdict, set_condition
from mloop.reconcile.naming import child_name
from mloop.reconcile.owners import child_labels, owner_reference
from mloop.reconcile.pods import S3Access, container_security_context, pod_security_context, s3_env
from mloop.reconcile.training import project_prefix

__all__ = [
    "Adoption",
    "Window",
    "adopt_retrain_run",
    "apply_failed_check",
    "apply_report",
    "build_drift_job",
    "current_window",
    "data_digest",
    "drift_job_name",
    "monitor_ready",
    "report_unreadable",
    "retrain_feedback",
    "retrain_run",
    "should_retrain",
    "started_check",
    "unfinished_check",
]

SCRATCH = "/tmp"  # noqa: S108 - a path inside the container, backed by an emptyDir volume


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def id(self) -> str:
        return self.end.strftime("%Y%m%d%H%M%S")


def current_window(monitor: DriftMonitor, now: datetime) -> Window:
    """The latest complete window: it ends at the last multiple of the interval at or before ``now``."""
    interval = parse_duration(monitor.spec.schedule.interval).total_seconds()
    epoch = int(now.timestamp())
    end = datetime.fromtimestamp(epoch - epoch % max(1, int(interval)), tz=UTC)
    duration = monitor.spec.window.duration
    length = parse_duration(duration) if duration else timedelta(seconds=interval)
    return Window(end - length, end)


def started_check(job: str, window: Window) -> ActiveCheck:
    return ActiveCheck(job=job, window_start=window.start, window_end=window.end)


def unfinished_check(status: DriftMonitorStatus, current: Window) -> tuple[str, Window] | None:
    """A check started for an earlier window whose report is not folded in yet: it is finished before the
    current window's (a slow Job, e.g. a pod waiting for its image, must not lose its verdict)."""
    active = status.active_check
    if active is None or active.job == status.last_check_job or active.window_end >= current.end:
        return None
    return active.job, Window(active.window_start, active.window_end)


def drift_job_name(monitor_name: str, window: Window) -> str:
    return child_name(monitor_name, "drift", window.id)


def build_drift_job(
    monitor_body: Mapping[str, Any],
    project: MLProject,
    version: ModelVersion,
    window: Window,
    *,
    deployment: str,
    image: str,
    s3: S3Access,
) -> dict[str, Any]:
    """One check of one window: the serving version's reference sample against the window's traffic."""
    monitor = DriftMonitor.model_validate(monitor_body)
    name = monitor.metadata.name or ""
    namespace = monitor.metadata.namespace or "default"
    prefix = project_prefix(project.spec.storage.bucket, namespace, project.metadata.name or "")
    version_name = version.metadata.name or ""
    config = {
        "detector": monitor.spec.detector.model_dump(by_alias=True, mode="json"),
        "window": monitor.spec.window.model_dump(by_alias=True, exclude_none=True, mode="json"),
        "predictionDrift": monitor.spec.prediction_drift,
    }
    if monitor.spec.performance is not None:
        config["performance"] = monitor.spec.performance.model_dump(by_alias=True, mode="json")
    args = [
        "--reference",
        version.spec.reference_uri or "",
        "--traffic",
        f"{prefix}traffic/{deployment}/{version_name}/",
        "--feedback",
        f"{prefix}feedback/{deployment}/",
        "--window-start",
        window.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--window-end",
        window.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--config",
        json.dumps(config, separators=(",", ":"), sort_keys=True),
        "--output",
        f"{prefix}drift/{name}/{window.id}/",
    ]
    labels = child_labels(name="mloop-drift", component="drift", instance=name, project=project.metadata.name)
    labels["mloop.io/drift-monitor"] = name
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": drift_job_name(name, window),
            "namespace": namespace,
            "labels": labels,
            "annotations": {"mloop.io/model-version": version_name, "mloop.io/window-end": window.id},
            "ownerReferences": [owner_reference(monitor_body)],
        },
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": 900,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": "drift",
                            "image": monitor.spec.image or image,
                            "args": args,
                            "env": [
                                *s3_env(s3),
                                {"name": "HOME", "value": SCRATCH},
                                {"name": "MPLCONFIGDIR", "value": SCRATCH},
                            ],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "512Mi"},
                                "limits": {"cpu": "1", "memory": "2Gi"},
                            },
                            "securityContext": container_security_context(),
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "volumeMounts": [{"name": "tmp", "mountPath": SCRATCH}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        },
    }


def apply_report(
    previous: DriftMonitorStatus,
    report: Mapping[str, Any],
    *,
    job: str,
    version: str,
    now: datetime,
    generation: int | None = None,
) -> DriftMonitorStatus:
    """Fold one window's report into the status; too few samples neither counts as drift nor clears it."""
    features = [
        DriftedFeature(
            name=str(f["name"]),
            statistic=float(f.get("statistic") or 0.0),
            p_value=float(f.get("pValue") or 0.0),
            test=f.get("test"),
        )
        for f in report.get("features") or []
        if f.get("drifted")
    ]
    prediction = report.get("predictionDrift") or {}
    if prediction.get("drifted"):
        features.append(
            DriftedFeature(
                name="_prediction",
                statistic=float(prediction.get("statistic") or 0.0),
                p_value=float(prediction.get("pValue") or 0.0),
                test=prediction.get("test"),
            )
        )
    performance = report.get("performance") or {}
    insufficient = bool(report.get("insufficientData"))
    drifted = not insufficient and (bool(report.get("drifted")) or performance.get("passed") is False)
    if insufficient:
        consecutive = previous.consecutive_drift_windows
    else:
        consecutive = previous.consecutive_drift_windows + 1 if drifted else 0
    samples = (report.get("samples") or {}).get("window")
    checked = Verdict(
        "Checked",
        "True",
        "InsufficientData" if insufficient else "ReportRead",
        f"{job}: {samples if samples is not None else 'no'} samples in the window",
    )
    return previous.model_copy(
        update={
            "model_version": version,
            "last_check_time": now,
            "last_check_job": job,
            "conditions": set_condition(previous.conditions, checked, generation=generation, now=now),
            "last_report": report.get("reportUri") or previous.last_report,
            "samples": samples,
            "drifted": drifted,
            "drifted_features": features[:32],
            "consecutive_drift_windows": consecutive,
            "performance_value": performance.get("value", previous.performance_value),
        }
    )


def apply_failed_check(
    previous: DriftMonitorStatus,
    *,
    job: str,
    version: str,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None = None,
) -> DriftMonitorStatus:
    """A check that ended without a report (S3 down, unreadable traffic): the window is done, so it is never
    checked twice, but it tells nothing. The drift verdict, its streak (so no alert and no retraining) and
    the last report stand; ``Checked`` says why, and ``Ready`` is False until a later window is checked."""
    checked = Verdict("Checked", "False", reason, f"{job}: {message}; this window is not counted")
    return previous.model_copy(
        update={
            "model_version": version,
            "last_check_time": now,
            "last_check_job": job,
            "samples": None,
            "conditions": set_condition(previous.conditions, checked, generation=generation, now=now),
        }
    )


def report_unreadable(
    previous: DriftMonitorStatus,
    *,
    job: str,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None = None,
) -> DriftMonitorStatus:
    """The check ran but its report cannot be read yet (S3 down for the operator): the window stays
    unchecked, so the report is read again rather than lost, and ``Checked`` says why meanwhile."""
    checked = Verdict("Checked", "False", reason, f"reading the report of {job}: {message}; retrying")
    return previous.model_copy(
        update={"conditions": set_condition(previous.conditions, checked, generation=generation, now=now)}
    )


def monitor_ready(status: DriftMonitorStatus) -> Verdict:
    """``Ready``: a monitor whose last check failed is not watching, whatever its last drift verdict."""
    checked = status.condition("Checked")
    if checked is not None and checked.status == "False":
        return Verdict("Ready", "False", checked.reason or "CheckFailed", checked.message or "")
    return Verdict("Ready", "True", "Watching", f"last check {status.last_check_job or 'pending'}")


@dataclass(frozen=True)
class Adoption:
    """A retraining run found already created: the status to record, and when its cooldown began
    (``None`` when the project already says so)."""

    status: DriftMonitorStatus
    cooldown_from: datetime | None


def adopt_retrain_run(
    status: DriftMonitorStatus, run: Mapping[str, Any] | None, project: MLProject, *, data_digest: str
) -> Adoption | None:
    """The run this alert names exists, but the status does not record it: the attempt that created it died
    before writing the status (and maybe before starting the cooldown). Record that run rather than decide
    again: with the run active or the cooldown started, ``should_retrain`` would say no and the monitor would
    never learn of its own run. The run's name hashes (monitor, data digest), so it is this alert's."""
    if run is None or status.last_retrain_data_digest == data_digest:
        return None
    created = run.get("metadata", {}).get("creationTimestamp")
    started = datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else None
    last = project.status.last_retrain_time
    cooldown_from = started if started is not None and (last is None or last < started) else None
    adopted = status.model_copy(
        update={"last_retrain_run": run["metadata"]["name"], "last_retrain_data_digest": data_digest}
    )
    return Adoption(adopted, cooldown_from)


def should_retrain(
    status: DriftMonitorStatus,
    monitor: DriftMonitor,
    project: MLProject,
    *,
    data_digest: str,
    active_runs: int,
    now: datetime,
) -> tuple[bool, str]:
    """An alert retrains only if asked to, outside the cooldown, under the concurrency cap, once per data."""
    if status.consecutive_drift_windows < monitor.spec.alert.consecutive_windows:
        return False, "below the alert threshold"
    if not monitor.spec.action.retrain or not project.spec.retraining.on_drift:
        return False, "retraining on drift is off"
    if status.last_retrain_data_digest == data_digest:
        return False, "already retrained on this data"
    last = project.status.last_retrain_time
    cooldown = parse_duration(project.spec.retraining.cooldown)
    if last is not None and now - last < cooldown:
        return False, f"in cooldown until {(last + cooldown).isoformat()}"
    if active_runs >= project.spec.retraining.max_concurrent_runs:
        return False, f"{active_runs} run(s) already in progress"
    return True, "drift alert"


def retrain_feedback(project: MLProject, deployment: str) -> dict[str, Any] | None:
    """``spec.feedback`` of a drift run: the drifting deployment's labelled traffic if the project opts in."""
    opt_in = project.spec.retraining.feedback
    if opt_in is None or not opt_in.enabled:
        return None
    out: dict[str, Any] = {"deploymentRef": {"name": deployment}, "maxRows": opt_in.max_rows}
    if opt_in.max_age:
        out["maxAge"] = opt_in.max_age
    return out


def retrain_run(
    monitor_body: Mapping[str, Any], project: MLProject, status: DriftMonitorStatus, *, data_digest: str
) -> dict[str, Any]:
    """The TrainingRun an alert creates; its name hashes (monitor, data digest), so it can exist only once."""
    monitor = DriftMonitor.model_validate(monitor_body)
    name = monitor.metadata.name or ""
    features = (
        ", ".join(f"{f.name} (p={f.p_value:.2g})" for f in status.drifted_features[:8]) or "performance"
    )
    token = hashlib.sha256(f"{name}/{data_digest}".encode()).hexdigest()[:10]
    spec: dict[str, Any] = {
        "projectRef": {"name": project.metadata.name},
        "trigger": "drift",
        "reason": f"{name}: drift in {status.consecutive_drift_windows} consecutive windows: {features}"[
            :1000
        ],
    }
    feedback = retrain_feedback(project, monitor.spec.deployment_ref.name)
    if feedback is not None:
        spec["feedback"] = feedback
    return {
        "apiVersion": "mloop.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {
            "name": child_name(project.metadata.name or "", "drift", token),
            "namespace": monitor.metadata.namespace,
            "labels": {"mloop.io/project": project.metadata.name or "", "mloop.io/drift-monitor": name},
        },
        "spec": spec,
    }


def data_digest(objects: Sequence[tuple[str, int]]) -> str:
    """A fingerprint of the project's data as it is now: keys and sizes (new partitions change it; with
    ``retraining.feedback`` the deployment's feedback log is listed too, so new labels change it)."""
    text = "\n".join(f"{key}\t{size}" for key, size in sorted(objects))
    return hashlib.sha256(text.encode()).hexdigest()
