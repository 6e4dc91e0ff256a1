"""The serving children of a ModelDeployment: per-version Deployments at the replica split the rollout state
implies, their PDBs, the HPA, the Services and (``gateway-api`` mode) the HTTPRoute; and what they report back
(ready pods, the real traffic share).

``upsert`` and ``prune`` make child writes idempotent: a settled child costs one read and no write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Container, Mapping
from types import EllipsisType
from typing import Any

from mloop.api.mlproject import MLProject
from mloop.api.modeldeployment import ModelDeployment, ModelDeploymentStatus
from mloop.api.modelversion import ModelVersion
from mloop.controller.deps import Dependencies
from mloop.controller.resources import DEPLOYMENTS, HPAS, HTTPROUTES, MODELVERSIONS, PDBS, SERVICES
from mloop.controller.storage import s3_access_for
from mloop.k8s import AlreadyExists, ApiNotFound
from mloop.k8s.gateway import ResourceType
from mloop.reconcile.serving import (
    SERVER_PORT,
    Role,
    build_hpa,
    build_pdb,
    build_serving_deployment,
    serving_name,
)
from mloop.reconcile.traffic import (
    TRACKS,
    RouteWeights,
    autoscaled_split,
    build_httproute,
    build_service,
    build_track_service,
    route_weights,
    track_split,
    uses_gateway,
)
from mloop.reconcile.training import project_prefix

__all__ = ["child_patch", "converge_serving", "differs", "observe_serving", "prune", "upsert"]


async def converge_serving(
    body: Mapping[str, Any],
    md: ModelDeployment,
    project: MLProject,
    status: ModelDeploymentStatus,
    deps: Dependencies,
    *,
    route_ready: bool,
) -> RouteWeights | None:
    """Per-version Deployments at the replica counts the status implies, everything else scaled or removed;
    then PDBs, the HPA and the traffic objects. Returns the HTTPRoute's weights as written, if one was."""
    namespace = md.metadata.namespace or "default"
    name = md.metadata.name or ""
    scaling = md.spec.autoscaling
    read: dict[str, Mapping[str, Any] | None] = {}  # Deployments already read in this pass, by name
    live_stable = None
    if scaling and status.stable_version:
        stable_name = serving_name(name, status.stable_version)
        read[stable_name] = await _get_or_none(deps, DEPLOYMENTS, namespace, stable_name)
        live_stable = _spec_replicas(read[stable_name])
    running = status.canary_version is not None
    if scaling:
        split = autoscaled_split(
            scaling.min_replicas,
            live_stable,
            status.canary_weight,
            canary_running=running,
            exact_weights=uses_gateway(md),
        )
    else:
        split = track_split(
            md.spec.replicas, status.canary_weight, canary_running=running, exact_weights=uses_gateway(md)
        )
    wanted: dict[str, tuple[Role, int]] = {}
    if status.stable_version:
        wanted[status.stable_version] = ("stable", split.stable)
    if status.canary_version:
        wanted[status.canary_version] = ("canary", split.canary)
    if status.previous_stable_version and status.previous_stable_version not in wanted:
        wanted[status.previous_stable_version] = ("stable", 0)
    traffic_uri = (
        project_prefix(project.spec.storage.bucket, namespace, project.metadata.name or "") + "traffic/"
    )
    s3 = s3_access_for(project, deps)
    serving: set[str] = set()
    for version_name, (role, replicas) in wanted.items():
        try:
            version = ModelVersion.model_validate(await deps.kube.get(MODELVERSIONS, namespace, version_name))
        except ApiNotFound:
            continue
        manifest = build_serving_deployment(
            body,
            version,
            role=role,
            replicas=replicas,
            image=deps.settings.server_image,
            s3=s3,
            traffic_uri=traffic_uri,
        )
        current = read.get(manifest["metadata"]["name"], ...)
        await upsert(deps, DEPLOYMENTS, namespace, manifest, current=current)
        if replicas > 0:
            serving.add(version_name)
    selector = f"mloop.io/deployment={name}"
    await prune(deps, DEPLOYMENTS, namespace, selector, {serving_name(name, v) for v in wanted})
    # A PDB only where pods run: the former stable at zero replicas needs none.
    for version_name in sorted(serving):
        await upsert(deps, PDBS, namespace, build_pdb(body, version_name))
    await prune(deps, PDBS, namespace, selector, {serving_name(name, v) for v in serving})
    hpa = build_hpa(body, status.stable_version) if status.stable_version else None
    if hpa is not None:
        await upsert(deps, HPAS, namespace, hpa)
    else:
        await prune(deps, HPAS, namespace, selector, ())
    await upsert(deps, SERVICES, namespace, build_service(body, status.stable_version), replace=("selector",))
    return await _converge_route(body, md, status, deps, route_ready=route_ready)


def _spec_replicas(deployment: Mapping[str, Any] | None) -> int | None:
    """A Deployment's ``spec.replicas`` now (on the stable track: the HPA's choice), None if absent."""
    replicas = ((deployment or {}).get("spec") or {}).get("replicas")
    return int(replicas) if isinstance(replicas, int) else None


async def _get_or_none(
    deps: Dependencies, rt: ResourceType, namespace: str, name: str
) -> Mapping[str, Any] | None:
    try:
        return await deps.kube.get(rt, namespace, name)
    except ApiNotFound:
        return None


async def _converge_route(
    body: Mapping[str, Any],
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    deps: Dependencies,
    *,
    route_ready: bool,
) -> RouteWeights | None:
    """``gateway-api``: the per-track Services, then the route to them. Back in ``replicas`` mode the
    per-track Services mark that a route may be left, so the route goes first and they go last."""
    namespace = md.metadata.namespace or "default"
    name = md.metadata.name or ""
    if not uses_gateway(md):
        leftovers = await deps.kube.list(
            SERVICES, namespace, label_selector=f"mloop.io/deployment={name},mloop.io/track"
        )
        if leftovers:
            await deps.kube.delete(HTTPROUTES, namespace, name)
        for service in leftovers:
            await deps.kube.delete(SERVICES, namespace, service["metadata"]["name"])
        return None
    if not route_ready or not status.stable_version:
        return None
    for track in TRACKS:
        manifest = build_track_service(body, track, status.stable_version)
        await upsert(deps, SERVICES, namespace, manifest, replace=("selector",))
    weights = route_weights(status.canary_version, status.canary_weight)
    route = build_httproute(body, weights)
    if route is None:
        return None
    await upsert(deps, HTTPROUTES, namespace, route)
    return weights


async def upsert(
    deps: Dependencies,
    rt: ResourceType,
    namespace: str,
    manifest: dict[str, Any],
    *,
    replace: tuple[str, ...] = (),
    current: Mapping[str, Any] | EllipsisType | None = ...,
) -> None:
    """Create, or patch when a field we set differs: a settled child costs one read and no write.
    ``current``: the object as already read in this pass (None: absent); ``...`` reads it here."""
    name = manifest["metadata"]["name"]
    if current is ...:
        current = await _get_or_none(deps, rt, namespace, name)
    if current is None:
        with contextlib.suppress(AlreadyExists):
            await deps.kube.create(rt, namespace, manifest)
        return
    patch = child_patch(manifest, current, replace=replace)
    if patch is not None:
        await deps.kube.patch(rt, namespace, name, patch)


async def prune(
    deps: Dependencies, rt: ResourceType, namespace: str, selector: str, keep: Container[str]
) -> None:
    """Delete our children of one kind (by label) that are no longer wanted; a list, and no write if none."""
    for existing in await deps.kube.list(rt, namespace, label_selector=selector):
        if existing["metadata"]["name"] not in keep:
            await deps.kube.delete(rt, namespace, existing["metadata"]["name"])


def child_patch(
    desired: Mapping[str, Any], current: Mapping[str, Any], *, replace: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """The merge patch that brings ``current`` to ``desired`` (spec and labels), or None when nothing differs.

    ``replace`` names spec maps we own whole, such as a Service's selector: a merge patch only adds keys, so
    the keys we no longer set are sent as null.
    """
    spec: Mapping[str, Any] = desired["spec"]
    current_spec: Mapping[str, Any] = current.get("spec") or {}
    labels = desired["metadata"].get("labels") or {}
    current_labels = (current.get("metadata") or {}).get("labels") or {}
    dropped = {
        key: {k: None for k in current_spec.get(key) or {} if k not in (spec.get(key) or {})}
        for key in replace
    }
    dropped = {key: nulls for key, nulls in dropped.items() if nulls}
    if not (dropped or differs(spec, current_spec) or differs(labels, current_labels)):
        return None
    patched = {**spec, **{key: {**nulls, **(spec.get(key) or {})} for key, nulls in dropped.items()}}
    return {"spec": patched, "metadata": {"labels": labels}}


def differs(desired: Any, current: Any) -> bool:
    """True if any field we set differs (fields the server defaulted are ignored)."""
    if isinstance(desired, Mapping):
        if not isinstance(current, Mapping):
            return True
        return any(differs(v, current.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(current, list) or len(desired) != len(current):
            return True
        return any(differs(a, b) for a, b in zip(desired, current, strict=True))
    return bool(desired != current)


async def observe_serving(
    md: ModelDeployment, status: ModelDeploymentStatus, deps: Dependencies, *, route: RouteWeights | None
) -> ModelDeploymentStatus:
    """Ready pods across tracks and the canary's real share: the ready-replica ratio behind one Service, or
    the weight written in the HTTPRoute (None while no route could be written)."""
    namespace = md.metadata.namespace or "default"
    deployments = await deps.kube.list(
        DEPLOYMENTS, namespace, label_selector=f"mloop.io/deployment={md.metadata.name}"
    )
    ready = {
        d["metadata"]["labels"].get("mloop.io/version"): (d.get("status") or {}).get("readyReplicas") or 0
        for d in deployments
    }
    canary_ready = ready.get(status.canary_version, 0) if status.canary_version else 0
    stable_ready = ready.get(status.stable_version, 0) if status.stable_version else 0
    total = canary_ready + stable_ready
    if uses_gateway(md):
        share = route.share if route is not None else None
    else:
        share = (canary_ready / total) if total and status.canary_version else None
    return status.model_copy(
        update={
            "ready_replicas": total,
            "canary_traffic_share": share,
            "endpoint": f"http://{md.metadata.name}.{namespace}.svc.cluster.local:{SERVER_PORT}",
        }
    )
