"""kopf adapters: parse, call one reconcile, write status. Nothing else lives here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from mloop.api import GROUP, VERSION
from mloop.controller.deps import Dependencies
from mloop.controller.driftmonitor import sync_driftmonitor
from mloop.controller.errors import mapped_errors
from mloop.controller.mlproject import sync_mlproject
from mloop.controller.modeldeployment import (
    MANUAL_ACTIONS,
    sync_deployments_of_project,
    sync_modeldeployment,
)
from mloop.controller.modelversion import sync_modelversion
from mloop.controller.resources import DRIFTMONITORS, TRAININGRUNS
from mloop.controller.trainingrun import sync_trainingrun
from mloop.k8s import ApiNotFound

__all__ = [
    "acts_at_once",
    "drift_job_event",
    "driftmonitor_changed",
    "driftmonitor_event",
    "job_event",
    "mlproject_changed",
    "mlproject_event",
    "modeldeployment_changed",
    "modeldeployment_event",
    "modelversion_changed",
    "spec_is_newer",
    "trainingrun_changed",
]

MANAGED = {"app.kubernetes.io/managed-by": "mloop-operator"}

Sync = Callable[[Mapping[str, Any], Dependencies], Awaitable[Any]]


async def _sync_now(kind: str, sync: Sync, body: Mapping[str, Any], deps: Dependencies) -> None:
    """Run a reconcile from an event handler. Events carry no retries: a temporary failure is left to the
    object's own change handler and to the resync loop, which retry it."""
    try:
        with mapped_errors(kind, retry=0, settings=deps.settings, metrics=deps.metrics):
            await sync(body, deps)
    except kopf.TemporaryError:
        return


@kopf.on.resume(GROUP, VERSION, "mlprojects")
@kopf.on.create(GROUP, VERSION, "mlprojects")
@kopf.on.update(GROUP, VERSION, "mlprojects")
async def mlproject_changed(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Create, update and operator restart all lead to the same level-based reconcile."""
    deps: Dependencies = memo["deps"]
    with mapped_errors("MLProject", retry=retry, settings=deps.settings, metrics=deps.metrics):
        await sync_mlproject(body, deps)


@kopf.on.resume(GROUP, VERSION, "trainingruns")
@kopf.on.create(GROUP, VERSION, "trainingruns")
@kopf.on.update(GROUP, VERSION, "trainingruns")
async def trainingrun_changed(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    deps: Dependencies = memo["deps"]
    with mapped_errors("TrainingRun", retry=retry, settings=deps.settings, metrics=deps.metrics):
        await sync_trainingrun(body, deps)


@kopf.on.resume(GROUP, VERSION, "modelversions")
@kopf.on.create(GROUP, VERSION, "modelversions")
@kopf.on.update(GROUP, VERSION, "modelversions")
async def modelversion_changed(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Also runs when ``mloop.io/approved-by`` is annotated (an annotation change is an update to kopf)."""
    deps: Dependencies = memo["deps"]
    with mapped_errors("ModelVersion", retry=retry, settings=deps.settings, metrics=deps.metrics):
        await sync_modelversion(body, deps)


@kopf.on.resume(GROUP, VERSION, "modeldeployments")
@kopf.on.create(GROUP, VERSION, "modeldeployments")
@kopf.on.update(GROUP, VERSION, "modeldeployments")
async def modeldeployment_changed(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Spec changes and the mloop.io/promote, abort and rollback annotations; canary steps reschedule it."""
    deps: Dependencies = memo["deps"]
    with mapped_errors("ModelDeployment", retry=retry, settings=deps.settings, metrics=deps.metrics):
        await sync_modeldeployment(body, deps)


@kopf.on.event(GROUP, VERSION, "modeldeployments")
async def modeldeployment_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A new spec or a promote, abort or rollback annotation acts at once, even mid-rollout.

    During a canary the change handler is delayed until the next analysis, and kopf runs a delayed handler
    only when its delay is over, whatever changed meanwhile: without this, ``mloop abort`` would wait for
    that analysis or the next resync.
    """
    deps: Dependencies = memo["deps"]
    if acts_at_once(body):
        await _sync_now("ModelDeployment", sync_modeldeployment, body, deps)


def acts_at_once(body: Mapping[str, Any]) -> bool:
    """An already reconciled ModelDeployment with a newer spec, or a manual request not yet acted on."""
    status = body.get("status") or {}
    if spec_is_newer(body):
        return True
    annotations = body.get("metadata", {}).get("annotations") or {}
    handled = status.get("handledActions") or {}
    return any(
        annotations.get(f"mloop.io/{action}") not in (None, "", handled.get(action))
        for action in MANUAL_ACTIONS
    )


def spec_is_newer(body: Mapping[str, Any]) -> bool:
    """Reconciled before, and the spec changed since: the user is waiting for it to take effect."""
    observed = (body.get("status") or {}).get("observedGeneration")
    return observed is not None and (body.get("metadata", {}).get("generation") or 0) > observed


@kopf.on.event(GROUP, VERSION, "driftmonitors")
async def driftmonitor_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A spec edit takes effect at once, not after the window the change handler is waiting for."""
    deps: Dependencies = memo["deps"]
    if spec_is_newer(body):
        await _sync_now("DriftMonitor", sync_driftmonitor, body, deps)


@kopf.on.resume(GROUP, VERSION, "driftmonitors")
@kopf.on.create(GROUP, VERSION, "driftmonitors")
@kopf.on.update(GROUP, VERSION, "driftmonitors")
async def driftmonitor_changed(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Checks one window per interval; the handler reschedules itself for the next window's end."""
    deps: Dependencies = memo["deps"]
    with mapped_errors("DriftMonitor", retry=retry, settings=deps.settings, metrics=deps.metrics):
        await sync_driftmonitor(body, deps)


@kopf.on.event(GROUP, VERSION, "mlprojects")
async def mlproject_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A champion change (a status write) rolls out to ``alias: champion`` deployments at once."""
    await _sync_now("ModelDeployment", sync_deployments_of_project, body, memo["deps"])


@kopf.on.event("batch", "v1", "jobs", labels={**MANAGED, "app.kubernetes.io/component": "trainer"})
async def job_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A training Job changed: reconcile the run that owns it (events carry no retries; resync catches up)."""
    deps: Dependencies = memo["deps"]
    run = body.metadata.labels.get("mloop.io/training-run")
    if not run:
        return
    try:
        owner = await deps.kube.get(TRAININGRUNS, body.metadata.namespace, run)
    except ApiNotFound:
        return
    await _sync_now("TrainingRun", sync_trainingrun, owner, deps)


@kopf.on.event("batch", "v1", "jobs", labels={**MANAGED, "app.kubernetes.io/component": "drift"})
async def drift_job_event(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A drift check finished: fold its report into the monitor without waiting for the next window."""
    deps: Dependencies = memo["deps"]
    monitor = body.metadata.labels.get("mloop.io/drift-monitor")
    if not monitor or body.get("status", {}).get("active"):
        return
    try:
        owner = await deps.kube.get(DRIFTMONITORS, body.metadata.namespace, monitor)
    except ApiNotFound:
        return
    await _sync_now("DriftMonitor", sync_driftmonitor, owner, deps)
