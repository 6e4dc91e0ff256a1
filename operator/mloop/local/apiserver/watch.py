"""Watch streams: JSON lines of ``{"type", "object"}`` with Kubernetes' resume semantics.

With ``resourceVersion=N`` (N > 0) only changes after N are sent (from the bounded history, or an
``ERROR`` event with a 410 ``Expired`` Status when N is older, which kopf and the Python client
answer by relisting); without it, the current objects come first as ``ADDED``. Selectors apply to
both the old and new state, so an object that starts or stops matching is seen as ADDED or DELETED.
Bookmarks carry the store's resourceVersion; ``timeoutSeconds`` ends the stream cleanly.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .builtin import ResourceType
from .convert import from_storage
from .errors import ApiError
from .faults import FaultInjector
from .selectors import FieldSelector, LabelSelector
from .store import Change, Store

__all__ = ["WatchRequest", "serve_watch"]

DEFAULT_TIMEOUT = 1800.0
_TICK = 0.5


@dataclass
class WatchRequest:
    """A parsed watch request."""

    rt: ResourceType
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    since: int | None
    bookmarks: bool
    send_initial: bool
    timeout: float
    render: Callable[[dict[str, Any]], dict[str, Any]]


def _matches(req: WatchRequest, obj: dict[str, Any] | None) -> bool:
    if obj is None:
        return False
    if req.rt.namespaced and req.namespace and obj["metadata"].get("namespace") != req.namespace:
        return False
    return req.labels.matches(obj) and req.fields.matches(obj)


def translate(req: WatchRequest, change: Change) -> str | None:
    """The event type this watcher sees for a change, or ``None`` if it sees nothing."""
    now, before = _matches(req, change.obj), _matches(req, change.old)
    if change.type == "MODIFIED":
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        return "DELETED" if before else None
    return change.type if now else None


async def serve_watch(
    request: web.Request, store: Store, req: WatchRequest, faults: FaultInjector, bookmark_interval: float
) -> web.StreamResponse:
    """Stream events until timeout, server shutdown, client disconnect or an injected cut."""
    initial: list[dict[str, Any]] = []
    error: ApiError | None = None
    try:
        replay, watcher = store.open_watch(req.rt, req.since)
    except ApiError as exc:
        error, replay, watcher = exc, [], None
    if watcher is not None and not req.since:
        initial = [
            from_storage(req.rt, obj) for obj in store.select(req.rt, req.namespace, req.labels, req.fields)
        ]
    start_rv = store.rv

    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)

    async def send(kind: str, obj: dict[str, Any]) -> None:
        line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n"
        await response.write(line.encode())

    def bookmark(rv: int, *, initial_end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": req.rt.kind, "apiVersion": req.rt.api_version, "metadata": meta}

    if error is not None:
        await send("ERROR", error.body())
        await response.write_eof()
        return response
    assert watcher is not None
    sent = 0
    deadline = time.monotonic() + req.timeout
    last_bookmark = time.monotonic()
    try:
        for obj in initial:
            await send("ADDED", req.render(obj))
            sent += 1
            if faults.watch_cut_every and sent % faults.watch_cut_every == 0:
                await response.write_eof()
                return response
        if req.send_initial and req.bookmarks:
            await send("BOOKMARK", bookmark(start_rv, initial_end=True))
        pending = list(replay)
        while True:
            if pending:
                change: Change | None = pending.pop(0)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    change = await asyncio.wait_for(watcher.queue.get(), timeout=min(remaining, _TICK))
                except TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    if req.bookmarks and time.monotonic() - last_bookmark >= bookmark_interval:
                        await send("BOOKMARK", bookmark(store.rv))
                        last_bookmark = time.monotonic()
                    continue
            if change is None:
                break
            kind = translate(req, change)
            if kind is None:
                continue
            await send(kind, req.render(from_storage(req.rt, change.obj)))
            sent += 1
            if faults.watch_cut_every and sent % faults.watch_cut_every == 0:
                break
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away
    finally:
        store.close_watch(watcher)
    return response
