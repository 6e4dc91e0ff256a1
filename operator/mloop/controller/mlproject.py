"""MLProject orchestration: check storage and data through the gateways; the pure core decides the status."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from mloop.api import API_VERSION
from mloop.api.mlproject import MLProject, MLProjectCounts, MLProjectStatus
from mloop.artifacts import ArtifactError, ArtifactStore, ObjectNotFound
from mloop.controller.clock import utcnow
from mloop.controller.deps import Dependencies
from mloop.controller.errors import RetryLater
from mloop.controller.resources import MLPROJECTS, MODELVERSIONS, TRAININGRUNS
from mloop.controller.status import commit_status, locked_fresh
from mloop.controller.storage import MissingCredentialsError, store_for
from mloop.k8s import AlreadyExists
from mloop.reconcile.conditions import Verdict
from mloop.reconcile.naming import child_name
from mloop.reconcile.project import (
    DATA_AVAILABLE,
    STORAGE_READY,
    ProjectChecks,
    invalid_spec_status,
    plan_project_status,
)

__all__ = ["RETRAIN_ANNOTATION", "ProjectResult", "reconcile_project", "sync_mlproject"]

RETRAIN_ANNOTATION = "mloop.io/retrain"


@dataclass(frozen=True)
class ProjectResult:
    """The status to write, and whether to look again (a check failed in a way time may fix)."""

    old: MLProjectStatus
    new: MLProjectStatus
    retry: bool
    invalid: bool = False


async def sync_mlproject(body: Mapping[str, Any], deps: Dependencies) -> None:
    """Re-read the object under its lock, decide, write only what changed; ``RetryLater`` if not ready.

    Shared by the change handlers and the resync loop, so both see the same fresh state and never post an
    Event twice for one transition.
    """
    async with locked_fresh(deps, MLPROJECTS, body) as fresh:
        if fresh is None:
            return
        result = await reconcile_project(fresh, deps, now=utcnow())
        new = await _children(fresh, result.new, deps)
        await commit_status(deps, MLPROJECTS, fresh, result.old, new, kind="MLProject")
    if result.retry:
        ready = result.new.condition("Ready")
        raise RetryLater(f"not ready: {ready.reason if ready else 'Unknown'}")


async def _children(body: Mapping[str, Any], status: MLProjectStatus, deps: Dependencies) -> MLProjectStatus:
    """Counts and the latest run, and the ``mloop.io/retrain`` request (Argo CD's retrain action) turned into
    exactly one TrainingRun per annotation value."""
    meta = body["metadata"]
    namespace, name = meta.get("namespace"), meta["name"]
    request = (meta.get("annotations") or {}).get(RETRAIN_ANNOTATION)
    update: dict[str, Any] = {}
    if request and request != status.handled_retrain_request:
        token = hashlib.sha256(request.encode()).hexdigest()[:8]
        run = {
            "apiVersion": API_VERSION,
            "kind": "TrainingRun",
            "metadata": {
                "name": child_name(name, "manual", token),
                "namespace": namespace,
                "labels": {"mloop.io/project": name},
            },
            "spec": {
                "projectRef": {"name": name},
                "trigger": "manual",
                "reason": f"requested with {RETRAIN_ANNOTATION}={request}"[:1000],
            },
        }
        with contextlib.suppress(AlreadyExists):
            await deps.kube.create(TRAININGRUNS, namespace, run)
        update["handled_retrain_request"] = request
    runs = [
        r for r in await deps.kube.list(TRAININGRUNS, namespace) if r["spec"]["projectRef"]["name"] == name
    ]
    versions = [
        v for v in await deps.kube.list(MODELVERSIONS, namespace) if v["spec"]["projectRef"]["name"] == name
    ]
    active = sum(1 for r in runs if (r.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
    latest = max(
        runs, key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]), default=None
    )
    update["counts"] = MLProjectCounts(runs=len(runs), active_runs=active, versions=len(versions))
    update["latest_run"] = latest["metadata"]["name"] if latest else None
    return status.model_copy(update=update)


async def reconcile_project(body: Mapping[str, Any], deps: Dependencies, *, now: datetime) -> ProjectResult:
    """Validate the spec, reach the bucket, find the data; never raises for a user's mistake."""
    old_status = MLProjectStatus.model_validate(body.get("status") or {})
    generation = body.get("metadata", {}).get("generation")
    try:
        project = MLProject.model_validate(body)
    except ValidationError as exc:
        message = _validation_message(exc)
        return ProjectResult(
            old_status, invalid_spec_status(old_status, message, generation=generation, now=now), False, True
        )
    checks = await _check_storage_and_data(project, deps)
    new_status = plan_project_status(old_status, checks, generation=generation, now=now)
    return ProjectResult(old_status, new_status, checks.retry)


async def _check_storage_and_data(project: MLProject, deps: Dependencies) -> ProjectChecks:
    storage = project.spec.storage
    not_checked = Verdict(DATA_AVAILABLE, "Unknown", "StorageUnavailable", "storage is not reachable yet")
    try:
        store = await store_for(project, deps)
    except MissingCredentialsError as exc:
        return ProjectChecks(Verdict(STORAGE_READY, "False", "CredentialsNotFound", str(exc)), not_checked)
    endpoint, _ = deps.stores.endpoint_of(storage)
    try:
        await asyncio.to_thread(store.check_bucket, storage.bucket)
    except ArtifactError as exc:
        message = f"bucket {storage.bucket!r} at {endpoint}: {exc.reason}: {exc}"
        return ProjectChecks(Verdict(STORAGE_READY, "False", "StorageUnavailable", message), not_checked)
    storage_ok = Verdict(STORAGE_READY, "True", "BucketReachable", f"bucket {storage.bucket!r} at {endpoint}")
    return ProjectChecks(storage_ok, await _check_data(store, project.spec.data.source.uri))


async def _check_data(store: ArtifactStore, uri: str) -> Verdict:
    """The data source is an object or a prefix of objects (partitions); either must exist."""
    if not uri.endswith("/"):
        try:
            info = await asyncio.to_thread(store.stat, uri)
            return Verdict(DATA_AVAILABLE, "True", "DataFound", f"{uri} ({info.size} bytes)")
        except ObjectNotFound:
            pass
        except ArtifactError as exc:
            return Verdict(DATA_AVAILABLE, "False", exc.reason, f"{uri}: {exc}")
    try:
        objects = await asyncio.to_thread(store.list, uri.rstrip("/") + "/")
    except ArtifactError as exc:
        return Verdict(DATA_AVAILABLE, "False", exc.reason, f"{uri}: {exc}")
    if not objects:
        return Verdict(DATA_AVAILABLE, "False", "DataNotFound", f"no object at or under {uri}")
    size = sum(o.size for o in objects)
    return Verdict(DATA_AVAILABLE, "True", "DataFound", f"{uri} ({len(objects)} objects, {size} bytes)")


def _validation_message(exc: ValidationError) -> str:
    """``spec.problem.task: Input should be ...`` for each error, with camelCase paths as users wrote them."""
    parts = []
    for error in exc.errors()[:5]:
        path = ".".join(str(p) for p in error["loc"])
        parts.append(f"{path}: {error['msg']}")
    return "; ".join(parts)
