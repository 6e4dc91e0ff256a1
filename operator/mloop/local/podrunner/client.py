"""The API gateway: the only module that speaks HTTP to the Kubernetes API (aiohttp).

It reads a kubeconfig (server, bearer token, CA or insecure TLS, client certificate files), turns
HTTP failures into ``ApiError`` subclasses, retries what a real client retries (429, 5xx and
connection errors, honouring ``Retry-After``), and streams watches line by line.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

__all__ = [
    "CONFIGMAPS",
    "DEPLOYMENTS",
    "JOBS",
    "NODES",
    "PODS",
    "REPLICASETS",
    "SECRETS",
    "ApiClient",
    "ApiError",
    "Conflict",
    "KubeConfig",
    "NotFound",
    "Resource",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the REST tree."""

    group_version: str
    plural: str
    kind: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        """``/api/v1/namespaces/ns/pods/name/status`` and friends."""
        root = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        parts = [root]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
        if sub:
            parts.append(sub)
        return "/".join(parts)


PODS = Resource("v1", "pods", "Pod")
SECRETS = Resource("v1", "secrets", "Secret")
CONFIGMAPS = Resource("v1", "configmaps", "ConfigMap")
NODES = Resource("v1", "nodes", "Node", namespaced=False)
JOBS = Resource("batch/v1", "jobs", "Job")
DEPLOYMENTS = Resource("apps/v1", "deployments", "Deployment")
REPLICASETS = Resource("apps/v1", "replicasets", "ReplicaSet")


class ApiError(Exception):
    """A failed API call, with the HTTP status and the ``Status`` reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    """404: the object is gone (usually fine: someone deleted it)."""


class Conflict(ApiError):
    """409: already exists, or a stale resourceVersion."""


@dataclass(frozen=True)
class KubeConfig:
    """The parts of a kubeconfig context the runner needs."""

    server: str
    token: str | None = None
    ssl_context: ssl.SSLContext | None = None

    @classmethod
    def load(cls, path: Path) -> KubeConfig:
        """Read the current context (like ``kubectl``); files are relative to the kubeconfig."""
        doc = yaml.safe_load(path.read_text()) or {}
        current = doc.get("current-context")
        contexts = {c["name"]: c.get("context", {}) for c in doc.get("contexts") or []}
        context: dict[str, Any] = contexts.get(current) or next(iter(contexts.values()), {})
        clusters = {c["name"]: c.get("cluster", {}) for c in doc.get("clusters") or []}
        users = {u["name"]: u.get("user") or {} for u in doc.get("users") or []}
        cluster: dict[str, Any] = clusters.get(context.get("cluster")) or next(iter(clusters.values()), {})
        user = users.get(context.get("user"), {})
        server = str(cluster.get("server", "")).rstrip("/")
        if not server:
            raise ValueError(f"{path}: no cluster server in the current context")
        context_ssl = None
        if server.startswith("https://"):
            context_ssl = _ssl_context(path.parent, cluster, user)
        return cls(server=server, token=user.get("token"), ssl_context=context_ssl)


def _material(base: Path, spec: dict[str, Any], key: str) -> str | None:
    """A file path for ``key`` or ``key-data`` (inline data goes to a private temp file)."""
    if spec.get(f"{key}-data"):
        handle = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")  # noqa: SIM115
        with handle:
            handle.write(base64.b64decode(spec[f"{key}-data"]))
        return handle.name
    if spec.get(key):
        return str(base / spec[key])
    return None


def _ssl_context(base: Path, cluster: dict[str, Any], user: dict[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=_material(base, cluster, "certificate-authority"))
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = _material(base, user, "client-certificate")
    if cert:
        context.load_cert_chain(cert, _material(base, user, "client-key"))
    return context


_RETRIABLE = {429, 500, 502, 503, 504}


class ApiClient:
    """A small async Kubernetes client over one aiohttp session."""

    def __init__(self, config: KubeConfig, *, attempts: int = 5) -> None:
        self.config = config
        self.attempts = attempts
        headers = {"User-Agent": "mloop-podrunner", "Accept": "application/json"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        self._headers = headers
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """Created lazily so the client can be built outside a running loop."""
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self.config.ssl_context or False, limit=32)
            self._session = aiohttp.ClientSession(headers=self._headers, connector=connector)
        return self._session

    async def close(self) -> None:
        """Close the session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
        text: str | None = None,
    ) -> Any:
        """One call with retries on transient failures; the decoded JSON answer."""
        data = text.encode() if text is not None else None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "text/plain" if text is not None else content_type}
        delay = 0.2
        for attempt in range(self.attempts):
            try:
                async with self.session.request(
                    method,
                    self.config.server + path,
                    data=data,
                    params=params,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=30),
                ) as response:
                    payload = await response.read()
                    if response.status < 400:
                        return json.loads(payload) if payload else None
                    if response.status in _RETRIABLE and attempt + 1 < self.attempts:
                        retry_after = response.headers.get("Retry-After", "")
                        await asyncio.sleep(float(retry_after) if retry_after.isdigit() else delay)
                        delay = min(delay * 2, 5.0)
                        continue
                    raise _error(response.status, payload)
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                if attempt + 1 >= self.attempts:
                    raise ApiError(503, "ServiceUnavailable", f"{method} {path}: {exc}") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    async def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        """GET one object."""
        result: dict[str, Any] = await self.request("GET", resource.path(namespace, name))
        return result

    async def list(self, resource: Resource, namespace: str | None = None) -> dict[str, Any]:
        """A list (all namespaces by default), with its ``metadata.resourceVersion``."""
        result: dict[str, Any] = await self.request("GET", resource.path(namespace))
        return result

    async def create(self, resource: Resource, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        """POST a new object; 409 AlreadyExists raises ``Conflict``."""
        result: dict[str, Any] = await self.request("POST", resource.path(namespace), body=body)
        return result

    async def merge_patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        sub: str | None = None,
    ) -> dict[str, Any]:
        """JSON merge patch (spec fields, replicas, nodeName)."""
        result: dict[str, Any] = await self.request(
            "PATCH",
            resource.path(namespace, name, sub),
            body=patch,
            content_type="application/merge-patch+json",
        )
        return result

    async def replace_status(
        self, resource: Resource, namespace: str | None, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace ``.status`` wholesale (a JSON patch ``add``: no read-modify-write, no stale merges)."""
        result: dict[str, Any] = await self.request(
            "PATCH",
            resource.path(namespace, name, "status"),
            body=[{"op": "add", "path": "/status", "value": status}],
            content_type="application/json-patch+json",
        )
        return result

    async def delete(
        self, resource: Resource, namespace: str | None, name: str, *, uid: str | None = None
    ) -> None:
        """DELETE with Background propagation; a precondition on ``uid`` avoids deleting a namesake."""
        body: dict[str, Any] = {"propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        await self.request("DELETE", resource.path(namespace, name), body=body)

    async def put_pod_log(self, namespace: str, name: str, text: str) -> None:
        """The emulator's admin endpoint behind ``kubectl logs`` (a no-op 404 on a real cluster)."""
        await self.request("PUT", f"/_emulator/podlogs/{namespace}/{name}", text=text)

    async def watch(
        self, resource: Resource, resource_version: str, *, seconds: int = 300
    ) -> AsyncIterator[dict[str, Any]]:
        """Watch events after ``resource_version`` (bookmarks on) until the server ends the stream."""
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(seconds),
        }
        async with self.session.get(
            self.config.server + resource.path(),
            params=params,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=seconds + 30),
        ) as response:
            if response.status >= 400:
                raise _error(response.status, await response.read())
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)


def _error(status: int, payload: bytes) -> ApiError:
    try:
        body = json.loads(payload)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or payload[:200].decode(errors="replace"))
    cls = NotFound if status == 404 else Conflict if status == 409 else ApiError
    return cls(status, reason, message)
