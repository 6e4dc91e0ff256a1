"""TrainingRun decisions: what the Job and its pods say, and the status the run should show.

Pure functions over plain dicts (the Job, its pods, the trainer's result), so every transition is table-tested
without a server.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mloop.api.trainingrun import TrainingRunStatus
from mloop.reconcile.conditions import Verdict, set_condition

__all__ = ["JobObservation", "RunPlan", "observe_job", "plan_training_run", "unreadable_result"]

JobState = Literal["missing", "pending", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class JobObservation:
    """The training Job as the reconciler needs it: its state, its times, and the trainer's last word."""

    state: JobState
    start_time: str | None = None
    completion_time: str | None = None
    reason: str | None = None
    message: str | None = None
    termination: Mapping[str, Any] | None = None


def _parse_message(message: str | None) -> Mapping[str, Any] | None:
    if not message:
        return None
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    return parsed if isinstance(parsed, Mapping) else None


def _termination(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest pod's termination message that parses as the trainer's JSON summary."""
    newest: list[tuple[str, Mapping[str, Any]]] = []
    for pod in pods:
        for status in pod.get("status", {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated") or {}
            parsed = _parse_message(terminated.get("message"))
            if parsed is not None:
                newest.append((str(terminated.get("finishedAt") or ""), parsed))
    return max(newest, key=lambda item: item[0])[1] if newest else None


def observe_job(job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]]) -> JobObservation:
    """Read a batch/v1 Job's status the way a real Job controller reports it."""
    if job is None:
        return JobObservation("missing")
    status = job.get("status") or {}
    terminal = {
        c["type"]: c
        for c in status.get("conditions") or []
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed")
    }
    termination = _termination(pods)
    start, completion = status.get("startTime"), status.get("completionTime")
    if "Complete" in terminal:
        return JobObservation("succeeded", start, completion, termination=termination)
    if "Failed" in terminal:
        failed = terminal["Failed"]
        return JobObservation(
            "failed", start, completion, failed.get("reason"), failed.get("message"), termination
        )
    state: JobState = "running" if status.get("active") or start else "pending"
    return JobObservation(state, start, completion, termination=termination)


@dataclass(frozen=True)
class RunPlan:
    """What to do next and the status to write."""

    status: TrainingRunStatus
    create_job: bool
    finished: bool
    succeeded: bool


def _stage_verdicts(result: Mapping[str, Any] | None) -> list[Verdict]:
    verdicts = []
    for stage in (result or {}).get("stages") or []:
        status: Literal["True", "False"] = "True" if stage.get("status") == "True" else "False"
        verdicts.append(
            Verdict(
                str(stage["name"]), status, str(stage.get("reason") or ""), str(stage.get("message") or "")
            )
        )
    return verdicts


def plan_training_run(
    previous: TrainingRunStatus,
    *,
    job_name: str,
    job: JobObservation,
    result: Mapping[str, Any] | None,
    model_version: str | None,
    generation: int | None,
    now: datetime,
) -> RunPlan:
    """The run's status from its Job and the trainer's result; a finished run is never started again."""
    finished_before = previous.phase in ("Succeeded", "Failed")
    status = previous.model_copy(update={"observed_generation": generation, "job_name": job_name})
    conditions = list(previous.conditions)
    for verdict in _stage_verdicts(result):
        conditions = set_condition(conditions, verdict, generation=generation, now=now)

    if finished_before and job.state in ("missing", "pending", "running"):
        # The Job was deleted after the run ended: the record stands, nothing is recreated.
        return RunPlan(status, create_job=False, finished=True, succeeded=previous.phase == "Succeeded")

    summary = result or job.termination or {}
    update: dict[str, Any] = {"start_time": _parse_time(job.start_time) or previous.start_time}
    if job.state in ("missing", "pending"):
        ready = Verdict("Ready", "Unknown", "Pending", f"waiting for Job {job_name} to start")
        phase, create, finished, succeeded = "Pending", job.state == "missing", False, False
    elif job.state == "running":
        ready = Verdict("Ready", "Unknown", "Running", f"Job {job_name} is running")
        phase, create, finished, succeeded = "Running", False, False, False
    elif job.state == "succeeded" and summary.get("status") == "succeeded":
        if model_version is None:
            ready = Verdict(
                "Ready", "Unknown", "CreatingModelVersion", "training succeeded; recording the version"
            )
        else:
            ready = Verdict("Ready", "True", "Succeeded", f"created ModelVersion {model_version}")
        phase, create, finished, succeeded = "Succeeded", False, model_version is not None, True
    else:
        reason = str(summary.get("reason") or job.reason or "JobFailed")
        message = str(summary.get("message") or job.message or f"Job {job_name} failed")
        ready = Verdict("Ready", "False", reason, message)
        phase, create, finished, succeeded = "Failed", False, True, False
    if finished:
        update["completion_time"] = previous.completion_time or _parse_time(job.completion_time) or now
    conditions = set_condition(conditions, ready, generation=generation, now=now)
    update.update(
        conditions=conditions,
        phase=phase,
        model_version=model_version or previous.model_version,
        data_digest=summary.get("dataDigest") or previous.data_digest,
        config_digest=summary.get("configDigest") or previous.config_digest,
    )
    return RunPlan(
        status.model_copy(update=update), create_job=create, finished=finished, succeeded=succeeded
    )


def unreadable_result(storage_reason: str | None, message: str) -> Verdict:
    """``Ready`` while a succeeded Job's ``result.json`` cannot be read; the run waits and is retried.

    An S3 outage (``storage_reason``: the store's transient reason) is named as such, as the project and
    the versions it also holds up name it, so one reason explains every waiting object; anything else (a
    missing or malformed result) is ``ResultUnavailable``.
    """
    return Verdict("Ready", "False", storage_reason or "ResultUnavailable", f"reading result.json: {message}")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
