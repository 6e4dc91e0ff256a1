"""Operator start-up and clean-up: kopf settings, typed dependencies in ``memo``, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

import kopf

from mloop.controller.deps import Dependencies, StoreFactory
from mloop.controller.driftmonitor import sync_driftmonitor
from mloop.controller.health import HealthServer
from mloop.controller.metrics import OperatorMetrics
from mloop.controller.mlproject import sync_mlproject
from mloop.controller.modeldeployment import sync_modeldeployment
from mloop.controller.modelversion import sync_modelversion
from mloop.controller.resources import (
    DRIFTMONITORS,
    MLPROJECTS,
    MODELDEPLOYMENTS,
    MODELVERSIONS,
    TRAININGRUNS,
)
from mloop.controller.resync import resync_forever
from mloop.controller.settings import OperatorSettings
from mloop.controller.trainingrun import sync_trainingrun
from mloop.k8s import KubeGateway
from mloop.k8s.gateway import ClusterConnection

__all__ = ["configure_kopf", "connection_from_kopf", "shutdown", "startup"]

ANNOTATION_PREFIX = "mloop.io"
log = logging.getLogger(__name__)


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """kopf keeps its bookkeeping in annotations under our prefix and never writes handler results to status.

    Our statuses are typed schemas (unknown fields would be pruned) and Events are posted by us, once per
    transition, so kopf's own per-handler Events are switched off.
    """
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    settings.posting.enabled = False
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 30


def connection_from_kopf(info: kopf.ConnectionInfo) -> ClusterConnection:
    """Reuse the credentials kopf found (service account in a pod, kubeconfig outside)."""

    def text(value: str | bytes | os.PathLike[str] | os.PathLike[bytes] | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            return value.decode()
        return os.fsdecode(value)

    return ClusterConnection(
        server=info.server,
        token=info.token,
        ca_path=text(info.ca_path),
        ca_data=text(info.ca_data),
        insecure=bool(info.insecure),
        certificate_path=text(info.certificate_path),
        certificate_data=text(info.certificate_data),
        private_key_path=text(info.private_key_path),
        private_key_data=text(info.private_key_data),
    )


async def _login(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.PermanentError("no Kubernetes credentials: set KUBECONFIG or run in a pod")
    return info


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Build the gateways once; every handler gets them from ``memo['deps']``."""
    configure_kopf(settings)
    operator_settings: OperatorSettings = memo.get("operator_settings") or OperatorSettings.from_env()
    metrics = OperatorMetrics()
    kube = KubeGateway(connection_from_kopf(await _login(settings)))
    memo["deps"] = Dependencies(
        settings=operator_settings, kube=kube, stores=StoreFactory(operator_settings), metrics=metrics
    )
    if operator_settings.health_port >= 0:
        health = HealthServer(metrics, operator_settings.health_host, operator_settings.health_port)
        await health.start()
        health.ready = True
        memo["health"] = health
    resynced = {
        MLPROJECTS: sync_mlproject,
        TRAININGRUNS: sync_trainingrun,
        MODELVERSIONS: sync_modelversion,
        MODELDEPLOYMENTS: sync_modeldeployment,
        DRIFTMONITORS: sync_driftmonitor,
    }
    memo["resync"] = asyncio.create_task(resync_forever(memo["deps"], resynced))
    log.info("mloop operator started; namespaces=%s", ",".join(operator_settings.namespaces) or "<all>")


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    resync: asyncio.Task[None] | None = memo.get("resync")
    if resync is not None:
        resync.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await resync
    deps: Dependencies | None = memo.get("deps")
    if deps is not None:
        await deps.kube.close()
    health: HealthServer | None = memo.get("health")
    if health is not None:
        await health.stop()
