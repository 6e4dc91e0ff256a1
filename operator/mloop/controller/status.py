"""Writing status and Events: only what changed, and only once per transition."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from mloop.api.common import StatusModel
from mloop.controller.deps import Dependencies
from mloop.k8s import ApiError, ApiNotFound, ObjectRef
from mloop.k8s.gateway import ResourceType
from mloop.reconcile.conditions import ready_transition

__all__ = ["commit_status", "locked_fresh", "record_event", "status_patch"]

log = logging.getLogger(__name__)
EVENT_ATTEMPTS = 3


def status_patch(old: Mapping[str, Any] | None, new: StatusModel) -> dict[str, Any]:
    """A JSON merge patch turning ``old`` into ``new``; empty when nothing changed (a settled object).

    Keys the model does not know are left alone, so fields of a newer operator survive.
    """
    old = old or {}
    desired = new.model_dump(by_alias=True, exclude_none=True, mode="json")
    known = {field.alias or name for name, field in type(new).model_fields.items()}
    patch: dict[str, Any] = {}
    for key in set(desired) | (set(old) & known):
        if key not in desired:
            patch[key] = None
        elif old.get(key) != desired[key]:
            patch[key] = desired[key]
    return patch


async def commit_status(
    deps: Dependencies,
    rt: ResourceType,
    body: Mapping[str, Any],
    old: StatusModel,
    new: StatusModel,
    *,
    kind: str,
) -> bool:
    """Write the status subresource if it changed, then post one Event if ``Ready`` moved.

    The Event follows the write so that a failed write (retried later) does not leave a duplicate.
    Returns whether anything was written.
    """
    patch = status_patch(body.get("status"), new)
    if not patch:
        return False
    meta = body["metadata"]
    await deps.kube.patch(rt, meta.get("namespace"), meta["name"], {"status": patch}, subresource="status")
    deps.metrics.status_writes.labels(kind).inc()
    change = ready_transition(getattr(old, "conditions", None), getattr(new, "conditions", []))
    if change is not None and not (change.previous_status is None and change.status == "Unknown"):
        await record_event(
            deps,
            ObjectRef.of(body),
            "Warning" if change.status == "False" else "Normal",
            change.reason or "Ready",
            change.message or f"{kind} is ready",
        )
    return True


async def record_event(
    deps: Dependencies, involved: ObjectRef, type_: Literal["Normal", "Warning"], reason: str, message: str
) -> None:
    """Events are best effort, as in client-go: a few quick retries, then a log line, never a failure.

    Retrying the whole reconcile instead would find the status already written and post nothing.
    """
    for attempt in range(EVENT_ATTEMPTS):
        try:
            await deps.kube.record_event(involved, type_=type_, reason=reason, message=message)
            return
        except ApiError as exc:
            if not exc.transient or attempt == EVENT_ATTEMPTS - 1:
                log.warning("could not record event for %s/%s: %s", involved.namespace, involved.name, exc)
                return
            await asyncio.sleep(min(2.0, exc.retry_after or 0.2 * 2**attempt))


@asynccontextmanager
async def locked_fresh(
    deps: Dependencies, rt: ResourceType, body: Mapping[str, Any]
) -> AsyncIterator[dict[str, Any] | None]:
    """Hold the object's lock and hand over its current state (``None`` once it is gone).

    Every kind reconciles under this: a change handler, a child's event and the resync loop never work on
    one object at once, and each decides from what the API holds now, not from the event's snapshot.
    """
    meta = body.get("metadata", {})
    uid = meta.get("uid", "")
    async with deps.locks(uid):
        try:
            fresh = await deps.kube.get(rt, meta.get("namespace"), meta.get("name", ""))
        except ApiNotFound:
            deps.locks.forget(uid)
            fresh = None
        yield fresh
