"""The serving children of a ModelDeployment: per-version Deployments at the replica split the rollout state
implies, their PDBs, the Service and the HPA; and what they report back (ready pods, the real traffic share).

``create_once`` and ``upsert`` make child writes idempotent: a settled child costs one read and no write.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from mloop.api.mlproject import MLProject
from mloop.api.modeldeployment import ModelDeployment, ModelDeploymentStatus
from mloop.api.modelversion import ModelVersion
from mloop.controller.deps import Dependencies
from mloop.controller.resources import DEPLOYMENTS, HPAS, MODELVERSIONS, PDBS, SERVICES
from mloop.controller.storage import s3_access_for
from mloop.k8s import AlreadyExists, ApiNotFound
from mloop.k8s.gateway import ResourceType
from mloop.reconcile.canary import replica_split
from mloop.reconcile.serving import (
    SERVER_PORT,
    Role,
    build_hpa,
    build_pdb,
    build_service,
    build_serving_deployment,
)
from mloop.reconcile.training import project_prefix

__all__ = ["converge_serving", "create_once", "differs", "observe_serving", "upsert"]


async def converge_serving(
    body: Mapping[str, Any],
    md: ModelDeployment,
    project: MLProject,
    status: ModelDeploymentStatus,
    deps: Dependencies,
) -> None:
    """Per-version Deployments at the replica counts the status implies; everything else scaled or removed."""
    namespace = md.metadata.namespace or "default"
    total = md.spec.autoscaling.min_replicas if md.spec.autoscaling else md.spec.replicas
    split = replica_split(total, status.canary_weight if status.canary_version else 0)
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
        await upsert(deps, DEPLOYMENTS, namespace, manifest)
        if replicas > 0:
            await create_once(deps, PDBS, namespace, build_pdb(body, version_name))
    for existing in await deps.kube.list(
        DEPLOYMENTS, namespace, label_selector=f"mloop.io/deployment={md.metadata.name}"
    ):
        version_label = existing["metadata"].get("labels", {}).get("mloop.io/version")
        if version_label not in wanted:
            await deps.kube.delete(DEPLOYMENTS, namespace, existing["metadata"]["name"])
            await deps.kube.delete(PDBS, namespace, existing["metadata"]["name"])
    await create_once(deps, SERVICES, namespace, build_service(body))
    if status.stable_version:
        hpa = build_hpa(body, status.stable_version)
        if hpa is not None:
            await upsert(deps, HPAS, namespace, hpa)


async def create_once(deps: Dependencies, rt: ResourceType, namespace: str, manifest: dict[str, Any]) -> None:
    with contextlib.suppress(AlreadyExists):
        await deps.kube.create(rt, namespace, manifest)


async def upsert(deps: Dependencies, rt: ResourceType, namespace: str, manifest: dict[str, Any]) -> None:
    """Create, or patch the spec when it differs: a settled child costs one read and no write."""
    name = manifest["metadata"]["name"]
    try:
        current = await deps.kube.get(rt, namespace, name)
    except ApiNotFound:
        with contextlib.suppress(AlreadyExists):
            await deps.kube.create(rt, namespace, manifest)
        return
    if differs(manifest["spec"], current.get("spec", {})):
        await deps.kube.patch(
            rt,
            namespace,
            name,
            {"spec": manifest["spec"], "metadata": {"labels": manifest["metadata"]["labels"]}},
        )


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
    md: ModelDeployment, status: ModelDeploymentStatus, deps: Dependencies
) -> ModelDeploymentStatus:
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
    return status.model_copy(
        update={
            "ready_replicas": total,
            "canary_traffic_share": (canary_ready / total) if total and status.canary_version else None,
            "endpoint": f"http://{md.metadata.name}.{namespace}.svc.cluster.local:{SERVER_PORT}",
        }
    )
