"""The Job controller's decisions (pure): how many pods to create or delete, and the next status.

Semantics follow kube-controller-manager for non-indexed Jobs: ``parallelism`` and ``completions``
(absent completions = work queue), ``backoffLimit`` (for ``OnFailure`` the container restarts of
active pods count, as in ``pastBackoffLimitOnFailure``), exponential delay before replacing a
failed pod, ``activeDeadlineSeconds``, ``suspend`` and ``ttlSecondsAfterFinished``. Counts come
from the pods that exist and never go down (``max`` with the recorded status), since this
controller puts no tracking finalizers on pods.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .podinfo import PodInfo, pod_from_template
from .status import format_time, parse_time, set_condition

__all__ = ["JobPlan", "build_job_pod", "finished", "plan_job"]

MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class JobPlan:
    """What to do for one Job in one pass."""

    status: dict[str, Any]
    create: int = 0
    delete: tuple[str, ...] = ()
    delete_job: bool = False
    wait: float = field(default=0.0)


def finished(status: Mapping[str, Any]) -> tuple[str, str] | None:
    """(``Complete``|``Failed``, when) once the Job is over."""
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"]), str(condition.get("lastTransitionTime", ""))
    return None


def _condition(status: dict[str, Any], type_: str, reason: str, message: str, now: str) -> None:
    status["conditions"] = set_condition(
        status.get("conditions") or [], type_, True, now, reason=reason, message=message, probe_time=True
    )


def plan_job(
    job: Mapping[str, Any], pods: Sequence[PodInfo], now: datetime.datetime, backoff_base: float
) -> JobPlan:
    """The next step for ``job`` given its pods."""
    spec = job.get("spec") or {}
    status: dict[str, Any] = copy.deepcopy(dict(job.get("status") or {}))
    stamp = format_time(now)
    active = [p for p in pods if p.active]
    active_names = tuple(p.name for p in active)
    done = finished(status)
    if done is not None:
        status["active"], status["ready"] = 0, 0
        ttl = spec.get("ttlSecondsAfterFinished")
        ended = parse_time(status.get("completionTime") or done[1]) or now
        expired = ttl is not None and (now - ended).total_seconds() >= ttl
        return JobPlan(status=status, delete=active_names, delete_job=expired)
    if spec.get("suspend"):
        status["active"], status["ready"] = 0, 0
        _condition(status, "Suspended", "JobSuspended", "Job suspended", stamp)
        return JobPlan(status=status, delete=active_names)
    if any(c.get("type") == "Suspended" for c in status.get("conditions") or []):
        status["conditions"] = set_condition(
            status["conditions"], "Suspended", False, stamp, reason="JobResumed", probe_time=True
        )
    status.setdefault("startTime", stamp)
    succeeded = max(int(status.get("succeeded") or 0), sum(p.phase == "Succeeded" for p in pods))
    failed = max(int(status.get("failed") or 0), sum(p.phase == "Failed" for p in pods))
    status["succeeded"], status["failed"] = succeeded, failed
    status["ready"] = sum(p.ready for p in active)
    backoff_limit = int(spec.get("backoffLimit", 6))
    on_failure = (spec.get("template") or {}).get("spec", {}).get("restartPolicy") == "OnFailure"
    restarts = sum(p.restarts for p in active)
    past_restarts = on_failure and (restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit)
    start = parse_time(status.get("startTime")) or now
    deadline = spec.get("activeDeadlineSeconds")
    failure: tuple[str, str] | None = None
    if failed > backoff_limit or past_restarts:
        failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    elif deadline is not None and (now - start).total_seconds() >= deadline:
        failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
    if failure is not None:
        status["failed"] = failed + len(active)
        status["active"], status["ready"] = 0, 0
        _condition(status, "Failed", failure[0], failure[1], stamp)
        return JobPlan(status=status, delete=active_names)
    completions = spec.get("completions")
    complete = succeeded >= completions if completions is not None else succeeded > 0 and not active
    if complete:
        status["active"], status["ready"] = 0, 0
        status["completionTime"] = stamp
        _condition(
            status, "Complete", "CompletionsReached", "Reached expected number of succeeded pods", stamp
        )
        return JobPlan(status=status, delete=active_names)
    parallelism = int(spec.get("parallelism", 1))
    if completions is not None:
        want = min(parallelism, int(completions) - succeeded)
    else:
        want = len(active) if succeeded else parallelism  # after a success, let the rest finish
    create, wait = 0, 0.0
    delete: tuple[str, ...] = ()
    if len(active) < want:
        wait = _failure_backoff(pods, now, backoff_base)
        create = want - len(active) if wait <= 0 else 0
    elif len(active) > want:
        newest_first = sorted(active, key=lambda p: (p.created, p.name), reverse=True)
        doomed = sorted(newest_first, key=lambda p: p.ready)  # not ready first, then newest
        delete = tuple(p.name for p in doomed[: len(active) - want])
    status["active"] = len(active) + create - len(delete)
    return JobPlan(status=status, create=create, delete=delete, wait=max(wait, 0.0))


def _failure_backoff(pods: Sequence[PodInfo], now: datetime.datetime, base: float) -> float:
    """Seconds still to wait before replacing failed pods (10 s, 20 s, … capped at 5 min)."""
    last_success = max((p.finished for p in pods if p.phase == "Succeeded" and p.finished), default=None)
    failures = [
        p.finished or now
        for p in pods
        if p.phase == "Failed" and (last_success is None or (p.finished or now) > last_success)
    ]
    if not failures:
        return 0.0
    delay = float(min(base * 2 ** (len(failures) - 1), MAX_BACKOFF))
    return delay - (now - max(failures)).total_seconds()


def build_job_pod(job: Mapping[str, Any]) -> dict[str, Any]:
    """A pod for ``job``: template labels (``job-name``, controller uid), owner, ``Never`` by default."""
    template = (job.get("spec") or {}).get("template") or {}
    pod = pod_from_template(job, template, job["metadata"]["name"])
    labels = pod["metadata"]["labels"]
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    for key, value in (
        ("batch.kubernetes.io/controller-uid", uid),
        ("controller-uid", uid),
        ("batch.kubernetes.io/job-name", name),
        ("job-name", name),
    ):
        labels.setdefault(key, value)
    pod["spec"].setdefault("restartPolicy", "Never")
    return pod
