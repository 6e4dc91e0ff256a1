"""ModelVersion orchestration: verify the artifact, run the gate, crown a champion with compare-and-swap."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from mloop.api.mlproject import MLProject
from mloop.api.modelversion import ModelVersion, ModelVersionStatus
from mloop.artifacts import ArtifactError
from mloop.controller.clock import utcnow
from mloop.controller.deps import Dependencies
from mloop.controller.errors import RetryLater
from mloop.controller.resources import MLPROJECTS, MODELVERSIONS
from mloop.controller.status import commit_status, locked_fresh, record_event
from mloop.controller.storage import MissingCredentialsError, store_for
from mloop.k8s import ApiConflict, ApiNotFound, ObjectRef
from mloop.reconcile.conditions import Verdict, set_condition
from mloop.reconcile.gate import GatePolicy
from mloop.reconcile.versions import APPROVED_BY, VersionFacts, plan_version

__all__ = ["reconcile_version", "sync_modelversion"]

log = logging.getLogger(__name__)
#: Stage changes that ``Ready`` does not already announce (rejection and retirement move ``Ready``'s reason).
STAGE_EVENTS: dict[str, tuple[Literal["Normal", "Warning"], str]] = {"champion": ("Normal", "Promoted")}


@dataclass(frozen=True)
class VersionResult:
    old: ModelVersionStatus
    new: ModelVersionStatus
    promote: bool = False
    project: Mapping[str, Any] | None = None
    retry: str | None = None


async def sync_modelversion(body: Mapping[str, Any], deps: Dependencies) -> None:
    """Reconcile one version; when it wins, swap the project's champion and retire the previous one."""
    namespace = body.get("metadata", {}).get("namespace")
    retired: str | None = None
    async with locked_fresh(deps, MODELVERSIONS, body) as fresh:
        if fresh is None:
            return
        result = await reconcile_version(fresh, deps, now=utcnow())
        if result.promote and result.project is not None:
            retired = await _crown(deps, result.project, fresh)
            result = await reconcile_version(fresh, deps, now=utcnow(), previous=result.new)
        await commit_status(deps, MODELVERSIONS, fresh, result.old, result.new, kind="ModelVersion")
        await _stage_event(deps, fresh, result.old, result.new)
    if retired:
        with contextlib.suppress(ApiNotFound):
            await sync_modelversion(await deps.kube.get(MODELVERSIONS, namespace, retired), deps)
    if result.retry:
        raise RetryLater(result.retry)


async def reconcile_version(
    body: Mapping[str, Any], deps: Dependencies, *, now: datetime, previous: ModelVersionStatus | None = None
) -> VersionResult:
    """Decide the version's status from the artifact, the project's rules and its current champion."""
    old = ModelVersionStatus.model_validate(body.get("status") or {})
    base = previous or old
    generation = body.get("metadata", {}).get("generation")
    try:
        version = ModelVersion.model_validate(body)
    except ValidationError as exc:
        return VersionResult(old, _not_ready(base, "InvalidSpec", str(exc), generation, now))
    namespace = version.metadata.namespace or "default"
    try:
        project_body = await deps.kube.get(MLPROJECTS, namespace, version.spec.project_ref.name)
    except ApiNotFound:
        message = f"MLProject {namespace}/{version.spec.project_ref.name} not found"
        return VersionResult(
            old, _not_ready(base, "ProjectNotFound", message, generation, now), retry=message
        )
    project = MLProject.model_validate(project_body)

    artifact = await _verify_artifact(deps, project, version, base)
    if artifact.status == "Unknown":
        return VersionResult(
            old, _not_ready(base, artifact.reason, artifact.message, generation, now), retry=artifact.message
        )
    policy = GatePolicy(
        primary_metric=project.spec.problem.primary_metric,
        kpis=tuple(project.spec.problem.kpis),
        min_improvement=project.spec.promotion.min_improvement,
        max_slice_gap=project.spec.promotion.max_slice_gap,
        slice_min_rows=project.spec.data.slice_min_rows,
    )
    facts = VersionFacts(
        artifact=artifact,
        project_champion=project.status.champion,
        policy=project.spec.promotion.policy,
        approved_by=version.metadata.annotations.get(APPROVED_BY) or None,
    )
    plan = plan_version(base, version, policy, facts, generation=generation, now=now)
    return VersionResult(old, plan.status, plan.promote, project_body)


def _not_ready(
    status: ModelVersionStatus, reason: str, message: str, generation: int | None, now: datetime
) -> ModelVersionStatus:
    ready = Verdict("Ready", "False", reason, message)
    return status.model_copy(
        update={
            "observed_generation": generation,
            "stage": status.stage or "candidate",
            "phase": (status.stage or "candidate").capitalize(),
            "conditions": set_condition(status.conditions, ready, generation=generation, now=now),
        }
    )


async def _verify_artifact(
    deps: Dependencies, project: MLProject, version: ModelVersion, status: ModelVersionStatus
) -> Verdict:
    """Download once and compare the SHA-256 with the spec; the spec is immutable, so a pass is final."""
    done = status.condition("ArtifactVerified")
    if done is not None and done.status == "True":
        return Verdict("ArtifactVerified", "True", done.reason, done.message)
    artifact = version.spec.artifact
    try:
        store = await store_for(project, deps)
        data = await asyncio.to_thread(store.get_bytes, artifact.uri, artifact.sha256)
    except MissingCredentialsError as exc:
        return Verdict("ArtifactVerified", "Unknown", "CredentialsNotFound", str(exc))
    except ArtifactError as exc:
        if exc.transient:
            return Verdict("ArtifactVerified", "Unknown", exc.reason, f"{artifact.uri}: {exc}")
        return Verdict("ArtifactVerified", "False", exc.reason, f"{artifact.uri}: {exc}")
    if len(data) != artifact.size_bytes:
        return Verdict(
            "ArtifactVerified",
            "False",
            "SizeMismatch",
            f"{artifact.uri}: {len(data)} bytes, spec says {artifact.size_bytes}",
        )
    return Verdict("ArtifactVerified", "True", "ChecksumMatched", f"sha256 {artifact.sha256[:12]}… verified")


async def _crown(
    deps: Dependencies, project_body: Mapping[str, Any], version_body: Mapping[str, Any]
) -> str | None:
    """Make the version the project's champion with an optimistic-concurrency write; returns the old champion.

    Two versions passing at once cannot both win: the loser's write carries a stale resourceVersion (409) and
    its next reconcile sees the new champion and is judged against it.
    """
    meta = project_body["metadata"]
    old_champion = (project_body.get("status") or {}).get("champion")
    version = ModelVersion.model_validate(version_body)
    metric = project_body["spec"]["problem"]["primaryMetric"]
    patch = {
        "metadata": {"resourceVersion": meta["resourceVersion"]},
        "status": {
            "champion": version.metadata.name,
            "championMetric": version.spec.metrics.test.get(metric),
        },
    }
    try:
        await deps.kube.patch(MLPROJECTS, meta["namespace"], meta["name"], patch, subresource="status")
    except ApiConflict as exc:
        raise RetryLater(f"project changed while promoting {version.metadata.name}; retrying") from exc
    await record_event(
        deps,
        ObjectRef.of(project_body),
        "Normal",
        "ChampionChanged",
        f"champion is now {version.metadata.name}" + (f" (was {old_champion})" if old_champion else ""),
    )
    return str(old_champion) if old_champion else None


async def _stage_event(
    deps: Dependencies, body: Mapping[str, Any], old: ModelVersionStatus, new: ModelVersionStatus
) -> None:
    if new.stage == old.stage or new.stage not in STAGE_EVENTS:
        return
    type_, reason = STAGE_EVENTS[new.stage]
    validated = new.condition("Validated")
    message = (
        f"promoted to champion: {validated.message}" if validated else f"stage {old.stage} -> {new.stage}"
    )
    await record_event(deps, ObjectRef.of(body), type_, reason, message)
