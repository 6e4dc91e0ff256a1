"""Periodic resync as one operator-wide loop, not per-object kopf timers.

kopf timers require a finalizer on every object (one more write per object, and objects stuck in Terminating
while the operator is down); a loop that lists each kind and reconciles what it finds needs neither.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mloop.controller.deps import Dependencies
from mloop.controller.errors import RetryLater
from mloop.k8s import ApiError
from mloop.k8s.gateway import ResourceType

__all__ = ["Reconciler", "resync_forever"]

log = logging.getLogger(__name__)
Reconciler = Callable[[Mapping[str, Any], Dependencies], Awaitable[None]]


async def resync_forever(deps: Dependencies, kinds: Mapping[ResourceType, Reconciler]) -> None:
    """Every ``MLOOP_RESYNC_SECONDS``, list each kind in the watched namespaces and reconcile every object.

    Reconciles are level-based, so a settled object costs reads only; errors are logged and left to the next
    period (change handlers own the fast retries with backoff).
    """
    namespaces: tuple[str | None, ...] = deps.settings.namespaces or (None,)
    while True:
        await asyncio.sleep(deps.settings.resync_seconds)
        for rt, reconcile in kinds.items():
            for namespace in namespaces:
                try:
                    items = await deps.kube.list(rt, namespace)
                except ApiError as exc:
                    log.warning("resync: listing %s failed: %s", rt.plural, exc)
                    continue
                for body in items:
                    try:
                        await reconcile(body, deps)
                    except RetryLater:
                        continue  # the status says why; the change handler retries with backoff
                    except Exception as exc:  # noqa: BLE001 - one object's failure must not stop the loop
                        meta = body.get("metadata", {})
                        log.info(
                            "resync of %s %s/%s: %s", rt.plural, meta.get("namespace"), meta.get("name"), exc
                        )
