"""kopf adapters: parse, call one reconcile, write status. Nothing else lives here."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import kopf

from mloop.api import GROUP, VERSION
from mloop.controller.deps import Dependencies
from mloop.controller.errors import RetryLater, mapped_errors
from mloop.controller.mlproject import reconcile_project
from mloop.controller.resources import MLPROJECTS
from mloop.controller.status import commit_status
from mloop.k8s import ApiNotFound

__all__ = ["mlproject_changed", "mlproject_resync"]

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Kubernetes times have second precision; rounding keeps re-written statuses byte-identical."""
    return datetime.now(UTC).replace(microsecond=0)


async def _reconcile_mlproject(body: kopf.Body, deps: Dependencies) -> None:
    """Level-based: re-read the object under its lock, decide, write only what changed."""
    namespace, name, uid = body.metadata.namespace, body.metadata.name, body.metadata.uid or ""
    async with deps.locks(uid):
        try:
            fresh = await deps.kube.get(MLPROJECTS, namespace, name or "")
        except ApiNotFound:
            deps.locks.forget(uid)
            return
        result = await reconcile_project(fresh, deps, now=utcnow())
        await commit_status(deps, MLPROJECTS, fresh, result.old, result.new, kind="MLProject")
    if result.retry:
        ready = result.new.condition("Ready")
        raise RetryLater(f"not ready: {ready.reason if ready else 'Unknown'}")


@kopf.on.resume(GROUP, VERSION, "mlprojects")
@kopf.on.create(GROUP, VERSION, "mlprojects")
@kopf.on.update(GROUP, VERSION, "mlprojects")
async def mlproject_changed(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Create, update and operator restart all lead to the same level-based reconcile."""
    deps: Dependencies = memo["deps"]
    with mapped_errors("MLProject", retry=retry, settings=deps.settings, metrics=deps.metrics):
        await _reconcile_mlproject(body, deps)


async def mlproject_resync(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Periodic re-check (bucket deleted, data appeared); costs zero writes when nothing changed."""
    deps: Dependencies = memo["deps"]
    try:
        with mapped_errors("MLProject", retry=0, settings=deps.settings, metrics=deps.metrics):
            await _reconcile_mlproject(body, deps)
    except (kopf.TemporaryError, kopf.PermanentError) as exc:
        log.debug("resync of %s/%s: %s", body.metadata.namespace, body.metadata.name, exc)
