"""``ApiServer``: the aiohttp application, routing, the request log and the ``/_emulator`` admin API.

Plain HTTP on loopback with no authentication (any bearer token is accepted), because it is a
local control plane and a test double, not a cluster.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from . import discovery
from .errors import ApiError
from .faults import FaultInjector
from .handlers import ResourceHandler, json_response, verb_of
from .registry import Registry
from .requestlog import RequestRecord, count_writes
from .routing import parse_path
from .store import Store

__all__ = ["ApiServer"]

T = TypeVar("T")
_PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2"


class ApiServer:
    """An in-memory Kubernetes API server on 127.0.0.1 (see the package docstring for the scope)."""

    def __init__(
        self,
        faults: FaultInjector | None = None,
        *,
        history_size: int = 10_000,
        bookmark_interval: float = 5.0,
    ) -> None:
        self.faults = faults or FaultInjector()
        self.registry = Registry()
        self.store = Store(self.registry, history_size=history_size)
        self.request_log: list[RequestRecord] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handler = ResourceHandler(self.store, self.faults, bookmark_interval)
        self._lock = threading.Lock()

    @property
    def bookmark_interval(self) -> float:
        """Seconds between BOOKMARK events on idle watches that asked for them."""
        return self._handler.bookmark_interval

    @bookmark_interval.setter
    def bookmark_interval(self, seconds: float) -> None:
        self._handler.bookmark_interval = seconds

    # -- lifecycle -------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application (one catch-all route; Kubernetes paths are parsed by hand)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 picks a free port); returns and sets ``url``."""
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # aiohttp keeps the bound socket here; needed for port 0
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        bound_port = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        """End all watches and stop listening."""
        self.store.close_all_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def write_kubeconfig(self, path: str | Path, context: str = "mloop-local") -> Path:
        """A kubeconfig for kubectl, kopf and the Python client (token is accepted blindly)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": "mloop-local"}}],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}
            ],
            "current-context": context,
            "preferences": {},
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    # -- helpers for tests and the pod runner (callable from any thread) -------------------------

    def call(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the server's loop (store access from another thread must go through here)."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            return func()

        async def run() -> T:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    def set_pod_log(self, namespace: str, name: str, text: str, *, append: bool = False) -> None:
        """The text ``GET .../pods/<name>/log`` serves (written by the pod runner)."""
        key = (namespace, name)
        with self._lock:
            self.store.pod_logs[key] = (self.store.pod_logs.get(key, "") if append else "") + text

    def compact_history(self) -> None:
        """Drop the watch history: any older resourceVersion now gets 410 Gone."""
        self.call(self.store.compact)

    def clear_request_log(self) -> None:
        """Forget recorded requests (e.g. after setup, before counting writes)."""
        with self._lock:
            self.request_log.clear()

    def count_writes(
        self,
        resource: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        successful_only: bool = False,
    ) -> int:
        """Write requests (create/update/patch/delete) matching the filters."""
        with self._lock:
            records = list(self.request_log)
        return count_writes(
            records,
            resource=resource,
            name=name,
            namespace=namespace,
            subresource=subresource,
            successful_only=successful_only,
        )

    # -- request handling ------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_emulator/"):
            return await self._admin(request)
        target = parse_path(path)
        record = RequestRecord(
            method=request.method,
            path=path,
            verb="get",
            group=target.group if target else "",
            version=target.version if target else "",
            resource=target.plural if target else "",
            subresource=(target.subresource or "") if target else "",
            namespace=(target.namespace or "") if target else "",
            name=(target.name or "") if target else "",
            status=0,
            time=time.time(),
            user_agent=request.headers.get("User-Agent", ""),
        )
        if target is not None:
            record.verb = verb_of(request.method, target.name, dict(request.query), target.watch_prefix)
            if (
                target.plural == "namespaces"
                and target.group == ""
                and target.name is None
                and target.namespace
            ):
                record.namespace = ""
        with self._lock:
            self.request_log.append(record)
        try:
            response = await self._serve(request, target, record)
        except ApiError as exc:
            response = json_response(exc.body(), exc.code, exc.headers)
        record.status = response.status
        return response

    async def _serve(self, request: web.Request, target: Any, record: RequestRecord) -> web.StreamResponse:
        if target is None:
            return self._discovery(request)
        rt = self.registry.get(target.group, target.version, target.plural)
        if rt is None or (target.namespace and not rt.namespaced):
            raise ApiError(404, "the server could not find the requested resource")
        namespace = target.namespace if rt.namespaced else None
        return await self._handler.handle(
            request, rt, namespace=namespace, name=target.name, subresource=target.subresource, record=record
        )

    def _discovery(self, request: web.Request) -> web.Response:
        parts = [p for p in request.path.split("/") if p]
        body: Any = None
        if request.method != "GET":
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if parts == ["version"]:
            body = discovery.version_info()
        elif parts == ["api"]:
            body = discovery.api_versions(request.host)
        elif parts == ["apis"]:
            body = discovery.api_group_list(self.registry)
        elif len(parts) == 2 and parts[0] == "api":
            body = discovery.api_resource_list(self.registry, "", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            body = discovery.api_group(self.registry, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            body = discovery.api_resource_list(self.registry, parts[1], parts[2])
        elif parts in (["healthz"], ["livez"], ["readyz"]):
            return web.Response(text="ok")
        elif parts == ["openapi", "v2"]:
            if _PROTOBUF_V2 in request.headers.get("Accept", ""):
                return web.Response(body=b"", content_type=_PROTOBUF_V2)
            body = {
                "swagger": "2.0",
                "info": {"title": "Kubernetes", "version": discovery.KUBERNETES_VERSION},
                "paths": {},
                "definitions": {},
            }
        elif parts == ["openapi", "v3"]:
            body = discovery.openapi_v3_index(self.registry)
        elif len(parts) >= 4 and parts[:2] == ["openapi", "v3"]:
            group, version = (
                ("", parts[3]) if parts[2] == "api" else (parts[3], parts[4] if len(parts) > 4 else "")
            )
            body = discovery.openapi_v3_document(self.registry, group, version)
        if body is None:
            raise ApiError(404, "the server could not find the requested resource")
        return json_response(body)

    async def _admin(self, request: web.Request) -> web.Response:
        """``/_emulator/{health,requests,faults,compact,podlogs/<ns>/<name>}`` for out-of-process tests."""
        parts = [p for p in request.path.split("/") if p][1:]
        method = request.method
        if parts == ["health"]:
            return json_response({"ok": True, "resourceVersion": str(self.store.rv)})
        if parts == ["requests"] and method == "GET":
            with self._lock:
                return json_response([r.to_dict() for r in self.request_log])
        if parts == ["requests"] and method == "DELETE":
            self.clear_request_log()
            return json_response({"ok": True})
        if parts == ["faults"]:
            if method == "POST":
                settings = await request.json()
                try:
                    if settings.pop("reset", False):
                        self.faults.reset()
                    self.faults.configure(**settings)
                except (ValueError, TypeError) as exc:
                    return json_response({"error": str(exc)}, 400)
            return json_response(self.faults.to_dict())
        if parts == ["compact"] and method == "POST":
            self.store.compact()
            return json_response({"ok": True})
        if len(parts) == 3 and parts[0] == "podlogs" and method in ("PUT", "POST"):
            self.set_pod_log(parts[1], parts[2], await request.text(), append=method == "POST")
            return json_response({"ok": True})
        return json_response({"error": f"unknown admin endpoint {request.path}"}, 404)
