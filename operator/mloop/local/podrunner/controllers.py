"""Orchestration of the Job, Deployment and ReplicaSet controllers: read the caches, ask the pure
planners, apply the result. Every write goes back into the cache at once (see ``informer``), and
a status is written only when it differs, so a settled cluster costs zero requests per pass.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from typing import Any

from .client import DEPLOYMENTS, JOBS, PODS, REPLICASETS, ApiClient, ApiError, Conflict, NotFound, Resource
from .deployments import (
    HASH_LABEL,
    REVISION,
    build_replicaset,
    deployment_status,
    plan_replicas,
    rs_info,
    template_hash,
)
from .informer import Informer
from .jobs import build_job_pod, plan_job
from .podinfo import by_controller, pod_info
from .replicasets import build_replicaset_pod, plan_replicaset
from .status import format_time

__all__ = ["Controllers"]

log = logging.getLogger(__name__)


def _deleting(obj: dict[str, Any]) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def _label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


class Controllers:
    """kube-controller-manager's Job, Deployment and ReplicaSet loops, minimal but faithful."""

    def __init__(
        self,
        api: ApiClient,
        *,
        jobs: Informer,
        deployments: Informer,
        replicasets: Informer,
        pods: Informer,
        backoff_base: float,
    ) -> None:
        self.api = api
        self.jobs = jobs
        self.deployments = deployments
        self.replicasets = replicasets
        self.pods = pods
        self.backoff_base = backoff_base

    async def reconcile(self, now: datetime.datetime) -> None:
        """One pass over every Job, Deployment and ReplicaSet (errors are logged per object)."""
        for informer, handler in (
            (self.jobs, self._job),
            (self.deployments, self._deployment),
            (self.replicasets, self._replicaset),
        ):
            for obj in informer.items():
                if _deleting(obj):
                    continue
                try:
                    await handler(obj, now)
                except NotFound:
                    pass  # deleted while we looked at it; the watch will tell
                except ApiError as exc:
                    log.warning("%s %s: %s", obj.get("kind"), _label(obj), exc)

    # -- helpers -------------------------------------------------------------------------------

    def _pods_of(self, owner: dict[str, Any]) -> list[dict[str, Any]]:
        return by_controller(self.pods.items()).get(owner["metadata"]["uid"], [])

    async def _create_pods(self, count: int, body: dict[str, Any]) -> None:
        for _ in range(count):
            created = await self.api.create(PODS, body["metadata"]["namespace"], body)
            self.pods.upsert(created)
            log.info("created pod %s", _label(created))

    async def _delete_pods(self, pods: list[dict[str, Any]], names: tuple[str, ...]) -> None:
        for pod in pods:
            meta = pod["metadata"]
            if meta["name"] in names:
                with contextlib.suppress(NotFound):
                    await self.api.delete(PODS, meta["namespace"], meta["name"], uid=meta["uid"])
                self.pods.forget(meta["uid"])
                log.info("deleted pod %s", _label(pod))

    async def _write_status(
        self, informer: Informer, resource: Resource, obj: dict[str, Any], status: dict[str, Any]
    ) -> None:
        if status == (obj.get("status") or {}):
            return
        meta = obj["metadata"]
        informer.upsert(await self.api.replace_status(resource, meta.get("namespace"), meta["name"], status))

    # -- Jobs ----------------------------------------------------------------------------------

    async def _job(self, job: dict[str, Any], now: datetime.datetime) -> None:
        pods = self._pods_of(job)
        plan = plan_job(job, [pod_info(p) for p in pods], now, self.backoff_base)
        await self._create_pods(plan.create, build_job_pod(job))
        await self._delete_pods(pods, plan.delete)
        await self._write_status(self.jobs, JOBS, job, plan.status)
        if plan.delete_job:
            meta = job["metadata"]
            await self.api.delete(JOBS, meta["namespace"], meta["name"], uid=meta["uid"])
            self.jobs.forget(meta["uid"])
            log.info("deleted finished job %s (ttlSecondsAfterFinished)", _label(job))

    # -- ReplicaSets ---------------------------------------------------------------------------

    async def _replicaset(self, rs: dict[str, Any], now: datetime.datetime) -> None:
        pods = self._pods_of(rs)
        plan = plan_replicaset(rs, [pod_info(p) for p in pods], now)
        await self._create_pods(plan.create, build_replicaset_pod(rs))
        await self._delete_pods(pods, plan.delete)
        await self._write_status(self.replicasets, REPLICASETS, rs, plan.status)

    # -- Deployments ---------------------------------------------------------------------------

    async def _deployment(self, deployment: dict[str, Any], now: datetime.datetime) -> None:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        owned = [
            rs for rs in by_controller(self.replicasets.items()).get(meta["uid"], []) if not _deleting(rs)
        ]
        pod_hash = template_hash(spec.get("template") or {})
        new = next((rs for rs in owned if rs["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash), None)
        olds = [rs for rs in owned if rs is not new]
        old_infos = [rs_info(rs) for rs in olds]
        old_uids = {rs["metadata"]["uid"] for rs in olds}
        old_alive = sum(
            pod_info(p).active
            for uid, group in by_controller(self.pods.items()).items()
            if uid in old_uids
            for p in group
        )
        top_revision = max((info.revision for info in old_infos), default=0)
        if new is None:
            if spec.get("paused"):
                return
            name = f"{meta['name']}-{pod_hash}"
            virtual = rs_info({"metadata": {"name": name}, "spec": {"replicas": 0}})
            replicas = plan_replicas(deployment, virtual, old_infos, old_alive)[name]
            new = await self._create_replicaset(
                build_replicaset(deployment, pod_hash, top_revision + 1, replicas)
            )
        elif rs_info(new).revision <= top_revision and olds:
            new = await self._patch_rs(new, {"metadata": {"annotations": {REVISION: str(top_revision + 1)}}})
        targets = plan_replicas(deployment, rs_info(new), old_infos, old_alive)
        for rs in [*olds, new]:
            target = targets.get(rs["metadata"]["name"])
            if target is not None and target != rs_info(rs).replicas:
                desired = str(spec.get("replicas", 1))
                annotations = {"deployment.kubernetes.io/desired-replicas": desired}
                await self._patch_rs(
                    rs, {"metadata": {"annotations": annotations}, "spec": {"replicas": target}}
                )
                log.info("scaled replicaset %s to %d", _label(rs), target)
        await self._prune_history(deployment, olds)
        new_info = rs_info(self.replicasets.get(new["metadata"]["uid"]) or new)
        old_now = [rs_info(self.replicasets.get(rs["metadata"]["uid"]) or rs) for rs in olds]
        status = deployment_status(deployment, new_info, old_now, format_time(now))
        await self._write_status(self.deployments, DEPLOYMENTS, deployment, status)

    async def _create_replicaset(self, body: dict[str, Any]) -> dict[str, Any]:
        namespace = body["metadata"]["namespace"]
        try:
            created = await self.api.create(REPLICASETS, namespace, body)
            log.info("created replicaset %s", _label(created))
        except Conflict:
            created = await self.api.get(REPLICASETS, namespace, body["metadata"]["name"])
        self.replicasets.upsert(created)
        return created

    async def _patch_rs(self, rs: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
        meta = rs["metadata"]
        patched = await self.api.merge_patch(REPLICASETS, meta["namespace"], meta["name"], patch)
        self.replicasets.upsert(patched)
        return patched

    async def _prune_history(self, deployment: dict[str, Any], olds: list[dict[str, Any]]) -> None:
        """Old ReplicaSets scaled to zero beyond ``revisionHistoryLimit`` (default 10) are deleted."""
        limit = int((deployment.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in olds
            if rs_info(self.replicasets.get(rs["metadata"]["uid"]) or rs).replicas == 0
            and not (rs.get("status") or {}).get("replicas")
        ]
        idle.sort(key=lambda rs: rs_info(rs).revision)
        for rs in idle[: max(len(idle) - limit, 0)]:
            meta = rs["metadata"]
            await self.api.delete(REPLICASETS, meta["namespace"], meta["name"], uid=meta["uid"])
            self.replicasets.forget(meta["uid"])
