"""TrainingRun orchestration: create the Job, follow it, read the result, record exactly one ModelVersion."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mloop.api.mlproject import MLProject
from mloop.api.modelversion import ModelVersion
from mloop.api.trainingrun import TrainingRun, TrainingRunStatus
from mloop.artifacts import ArtifactError
from mloop.controller.clock import utcnow
from mloop.controller.deps import Dependencies
from mloop.controller.errors import RetryLater
from mloop.controller.resources import JOBS, MLPROJECTS, MODELVERSIONS, PODS, TRAININGRUNS
from mloop.controller.status import commit_status, locked_fresh
from mloop.controller.storage import MissingCredentialsError, s3_access_for, store_for
from mloop.k8s import AlreadyExists, ApiNotFound
from mloop.reconcile.conditions import Verdict, set_condition
from mloop.reconcile.results import (
    build_model_version,
    next_version_name,
    to_provenance,
    to_training_results,
)
from mloop.reconcile.runs import observe_job, plan_training_run, unreadable_result
from mloop.reconcile.training import build_training_job, run_output_uri, training_job_name

__all__ = ["reconcile_run", "sync_trainingrun"]

VERSION_NAME_ATTEMPTS = 5


@dataclass(frozen=True)
class RunResult:
    old: TrainingRunStatus
    new: TrainingRunStatus
    retry: str | None = None


async def sync_trainingrun(body: Mapping[str, Any], deps: Dependencies) -> None:
    """Re-read under the run's lock, reconcile, write what changed; ``RetryLater`` while blocked."""
    async with locked_fresh(deps, TRAININGRUNS, body) as fresh:
        if fresh is None:
            return
        result = await reconcile_run(fresh, deps, now=utcnow())
        await commit_status(deps, TRAININGRUNS, fresh, result.old, result.new, kind="TrainingRun")
    if result.retry:
        raise RetryLater(result.retry)


def _blocked(
    old: TrainingRunStatus, reason: str, message: str, generation: int | None, now: datetime
) -> RunResult:
    ready = Verdict("Ready", "False", reason, message)
    new = old.model_copy(
        update={
            "observed_generation": generation,
            "phase": old.phase or "Pending",
            "conditions": set_condition(old.conditions, ready, generation=generation, now=now),
        }
    )
    return RunResult(old, new, retry=message)


async def reconcile_run(body: Mapping[str, Any], deps: Dependencies, *, now: datetime) -> RunResult:
    """Level-based: whatever was done before (even by a killed operator) is found, never done twice."""
    old = TrainingRunStatus.model_validate(body.get("status") or {})
    generation = body.get("metadata", {}).get("generation")
    if old.phase == "Failed" or (old.phase == "Succeeded" and old.model_version):
        return RunResult(old, old)  # finished: the record stands
    try:
        run = TrainingRun.model_validate(body)
    except ValidationError as exc:
        return RunResult(old, _blocked(old, "InvalidSpec", str(exc), generation, now).new)
    namespace = run.metadata.namespace or "default"
    try:
        project_body = await deps.kube.get(MLPROJECTS, namespace, run.spec.project_ref.name)
    except ApiNotFound:
        message = f"MLProject {namespace}/{run.spec.project_ref.name} not found"
        return _blocked(old, "ProjectNotFound", message, generation, now)
    project = MLProject.model_validate(project_body)

    job_name = training_job_name(run.metadata.name or "")
    job = await _get_or_none(deps, JOBS, namespace, job_name)
    pods = await deps.kube.list(PODS, namespace, label_selector=f"job-name={job_name}") if job else []
    observed = observe_job(job, pods)

    if observed.state == "missing" and old.phase not in ("Succeeded", "Failed"):
        champion = await _champion_model(deps, project)
        manifest = build_training_job(
            body,
            project,
            image=deps.settings.trainer_image,
            s3=s3_access_for(project, deps),
            champion=champion,
        )
        with contextlib.suppress(AlreadyExists):  # created by an attempt whose answer was lost
            await deps.kube.create(JOBS, namespace, manifest)

    result: dict[str, Any] | None = None
    version_name: str | None = old.model_version
    if observed.state in ("succeeded", "failed"):
        try:
            result = await _read_result(deps, project, run, observed.termination)
        except (ArtifactError, MissingCredentialsError, ValueError, TypeError) as exc:
            if observed.state == "succeeded":
                outage = exc.reason if isinstance(exc, ArtifactError) and exc.transient else None
                wait = unreadable_result(outage, str(exc))
                return _blocked(old, wait.reason, wait.message, generation, now)
        if observed.state == "succeeded" and result and result.get("status") == "succeeded":
            version_name = await _ensure_model_version(deps, body, project_body, result)

    plan = plan_training_run(
        old,
        job_name=job_name,
        job=observed,
        result=result,
        model_version=version_name,
        generation=generation,
        now=now,
    )
    status = plan.status
    if result is not None:
        status = status.model_copy(
            update={"results": to_training_results(result), "data": to_provenance(result)}
        )
    return RunResult(old, status)


async def _get_or_none(deps: Dependencies, rt: Any, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return await deps.kube.get(rt, namespace, name)
    except ApiNotFound:
        return None


async def _champion_model(deps: Dependencies, project: MLProject) -> tuple[str, str] | None:
    """The current champion's (name, model URI), so the trainer re-scores it on the new test set."""
    name = project.status.champion
    if not name:
        return None
    body = await _get_or_none(deps, MODELVERSIONS, project.metadata.namespace or "default", name)
    if body is None:
        return None
    return name, ModelVersion.model_validate(body).spec.artifact.uri


async def _read_result(
    deps: Dependencies, project: MLProject, run: TrainingRun, termination: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The full ``result.json`` from S3 (the termination message only says where it is and the verdict)."""
    uri = (termination or {}).get("resultUri") or (
        run_output_uri(
            project.spec.storage.bucket,
            run.metadata.namespace or "default",
            project.metadata.name or "",
            run.metadata.name or "",
        )
        + "result.json"
    )
    store = await store_for(project, deps)
    raw = await asyncio.to_thread(store.get_bytes, str(uri))
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise TypeError(f"{uri}: not a JSON object")
    return parsed


async def _ensure_model_version(
    deps: Dependencies, run_body: Mapping[str, Any], project_body: Mapping[str, Any], result: dict[str, Any]
) -> str:
    """Find the run's ModelVersion or create it under the next free number; a crash in between is harmless."""
    namespace = run_body["metadata"]["namespace"]
    run_name = run_body["metadata"]["name"]
    project_name = project_body["metadata"]["name"]
    for _ in range(VERSION_NAME_ATTEMPTS):
        versions = await deps.kube.list(
            MODELVERSIONS, namespace, label_selector=f"mloop.io/project={project_name}"
        )
        for version in versions:
            if version.get("spec", {}).get("trainingRunRef", {}).get("name") == run_name:
                return str(version["metadata"]["name"])
        name = next_version_name(project_name, (v["metadata"]["name"] for v in versions))
        try:
            await deps.kube.create(
                MODELVERSIONS, namespace, build_model_version(name, run_body, project_body, result)
            )
            return name
        except AlreadyExists:
            continue  # another run took that number: look again
    raise RetryLater(f"could not find a free ModelVersion name for {project_name}")
