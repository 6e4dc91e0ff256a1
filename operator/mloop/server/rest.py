"""The REST layer: a raw ASGI callable — routing, body limits, JSON error bodies — over the data plane.

Why raw ASGI and not Starlette: the B2 floor is "raw ASGI + ONNX Runtime", and a framework can only add
per-request work (a Request object, routing, a middleware stack) to it. Starlette is neither a server
dependency nor installed, so it could not be measured side by side; the raw app is ~30 lines of routing.
Measured on a shared 2-vCPU VM (B2, one row per request, medians of 15 alternating rounds): 0.84-0.91x
the floor at one connection and 0.81-0.90x at eight. In-process the app costs ~10 µs per request more than
the floor's (~36 µs, three quarters of it ONNX Runtime): metrics, request ids and the checks the floor does
not do (one-row requests take ``onerow.OneRow``, one pass into two arrays). B3: metrics + S3 logging cost
~5.7 µs per request in-process, see ``trafficlog`` for why small requests are encoded on the request path;
B4: 64-row requests give ~25-35x the rows/s.

Error contract: every error is JSON ``{"error", "code", "field"?, "feature"?, "requestId"}``. Bodies over
``--max-body-bytes`` get 413 before any parsing — from ``Content-Length`` when present, and by counting
streamed bytes otherwise. Any unexpected exception becomes a 500 carrying a request id that is also logged
with the traceback; bad input never gets there (validation raises ``RequestError`` first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from mloop.server.dataplane import DataPlane, new_request_id
from mloop.server.validation import RequestError

__all__ = ["RestApp"]

log = logging.getLogger("mloop.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_TEXT = (b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
_CLOSE = (b"connection", b"close")


class _ClientGone(Exception):
    """The client disconnected before sending its whole body."""


class RestApp:
    """ASGI 3 application for one ``DataPlane``; lifespan starts and flushes the traffic log."""

    def __init__(self, dataplane: DataPlane, *, shutdown_grace: float = 10.0) -> None:
        self.dp = dataplane
        self.max_body = dataplane.settings.max_body_bytes
        self.shutdown_grace = shutdown_grace
        self._get: dict[str, Callable[[], tuple[int, bytes]]] = {
            "/healthz": lambda: (200, b'{"status":"ok"}'),
            "/readyz": self._readyz,
            "/v2/health/live": lambda: (200, b'{"live":true}'),
            "/v2/health/ready": self._ready,
            "/v2": lambda: (
                200,
                orjson.dumps({"name": "mloop", "version": "v2", "extensions": ["binary_tensor_data"]}),
            ),
            "/metrics": lambda: (200, self.dp.metrics.render()),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.dp.traffic is not None:
                    self.dp.traffic.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.dp.draining = True
                if self.dp.traffic is not None:
                    await asyncio.to_thread(self.dp.traffic.stop, self.shutdown_grace)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _readyz(self) -> tuple[int, bytes]:
        return (200, b'{"status":"ready"}') if self.dp.ready else (503, b'{"status":"not ready"}')

    def _ready(self) -> tuple[int, bytes]:
        return (200, b'{"ready":true}') if self.dp.ready else (503, b'{"ready":false}')

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        inference = False
        started = time.perf_counter()
        try:
            if path == "/predict":
                inference = True
                self._method(method, "POST")
                status, body = 200, self.dp.predict(await self._body(scope, receive))
            elif path.startswith("/v2/models/"):
                inference = path.endswith("/infer")
                status, body = await self._models(path[len("/v2/models/") :], method, scope, receive)
            elif path == "/feedback":
                self._method(method, "POST")
                status, body = 202, self.dp.feedback(await self._body(scope, receive))
            elif path in self._get:
                self._method(method, "GET")
                status, body = self._get[path]()
            else:
                status, body = _not_found(path)
        except RequestError as exc:
            status = exc.status
            body = orjson.dumps({**exc.body(), "requestId": new_request_id()})
        except _ClientGone:
            return
        except Exception:
            request_id = new_request_id()
            log.exception("internal error (requestId %s) on %s %s", request_id, method, path)
            status = 500
            body = orjson.dumps({"error": "internal error", "code": 500, "requestId": request_id})
        if inference:
            self.dp.observe(started, status)
        headers = [
            _TEXT if path == "/metrics" and status == 200 else _JSON,
            (b"content-length", b"%d" % len(body)),
        ]
        if status == 413:
            headers.append(_CLOSE)  # the unread body is still on the wire: do not reuse the connection
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _method(method: str, allowed: str) -> None:
        if method != allowed:
            raise RequestError(405, f"use {allowed}", "method")

    async def _models(self, rest: str, method: str, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        """``{name}``, ``{name}/ready``, ``{name}/infer``, each also under ``{name}/versions/{v}/``."""
        parts = rest.split("/")
        name, version = parts[0], None
        if len(parts) >= 3 and parts[1] == "versions":
            version, parts = parts[2], [name, *parts[3:]]
        action = parts[1] if len(parts) == 2 else ("" if len(parts) == 1 else None)
        if action == "infer":
            self._method(method, "POST")
            body = await self._body(scope, receive)
            header = _header(scope, b"inference-header-content-length")
            return 200, self.dp.infer(body, header, name, version)
        if action == "ready":
            self._method(method, "GET")
            ready = self.dp.model_ready(name, version)
            return (200 if ready else 503), orjson.dumps({"name": name, "ready": ready})
        if action == "":
            self._method(method, "GET")
            return 200, self.dp.model_metadata(name, version)
        raise RequestError(404, f"no route /v2/models/{rest}", "path")

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.max_body
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            if declared.isdigit():
                raise RequestError(413, f"the body is over the limit of {limit} bytes", "body")
            raise RequestError(400, "Content-Length is not a number", "content-length")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"the body is over the limit of {limit} bytes", "body")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _not_found(path: str) -> tuple[int, bytes]:
    raise RequestError(404, f"no route {path}", "path")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text.strip()
    return None
