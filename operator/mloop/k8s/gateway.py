"""A small async gateway to the Kubernetes API for the operator's own reads and writes.

kopf watches and dispatches; everything the reconcilers read or write beyond the object in hand goes
through here, as plain dicts over aiohttp, with every client error translated into ``mloop.k8s.errors``.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp

from mloop import __version__
from mloop.k8s.errors import (
    AlreadyExists,
    ApiConflict,
    ApiError,
    ApiForbidden,
    ApiInvalid,
    ApiNotFound,
    ApiUnavailable,
)

__all__ = ["ClusterConnection", "KubeGateway", "ObjectRef", "ResourceType"]

PatchType = Literal["merge", "json", "strategic"]
_CONTENT_TYPES: dict[PatchType, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
EVENT_COMPONENT = "mloop-operator"
#: Lets an audit log (and our RBAC test) tell the operator's own calls from kopf's and other clients'.
USER_AGENT = f"mloop-operator/{__version__}"


@dataclass(frozen=True)
class ResourceType:
    """Where a kind lives in the REST API (``group`` is empty for the core group)."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


SECRETS = ResourceType("", "v1", "secrets")
EVENTS = ResourceType("", "v1", "events")


@dataclass(frozen=True)
class ObjectRef:
    """Enough of an object to point an Event or an ownerReference at it."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: str | None = None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ObjectRef:
        meta = body.get("metadata", {})
        return cls(
            api_version=str(body.get("apiVersion", "")),
            kind=str(body.get("kind", "")),
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            resource_version=meta.get("resourceVersion"),
        )


@dataclass(frozen=True)
class ClusterConnection:
    """How to reach the API server; filled from kopf's login or a kubeconfig by the caller."""

    server: str
    token: str | None = None
    ca_path: str | None = None
    ca_data: str | None = None
    insecure: bool = False
    certificate_path: str | None = None
    certificate_data: str | None = None
    private_key_path: str | None = None
    private_key_data: str | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)

    def ssl_context(self) -> ssl.SSLContext | bool:
        """Build the TLS context; plain http (the local emulator) needs none."""
        if self.server.startswith("http://"):
            return False
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            cadata = _maybe_b64(self.ca_data) if self.ca_data else None
            context = ssl.create_default_context(cafile=self.ca_path, cadata=cadata)
        if self.certificate_path or self.certificate_data:
            cert = self.certificate_path or _write_temp(_maybe_b64(self.certificate_data or ""))
            key = self.private_key_path or (
                _write_temp(_maybe_b64(self.private_key_data)) if self.private_key_data else None
            )
            context.load_cert_chain(cert, key)
        return context


def _maybe_b64(data: str) -> str:
    """kubeconfig carries certificate data base64-encoded; kopf sometimes hands it over decoded."""
    if "-----BEGIN" in data:
        return data
    return base64.b64decode(data).decode()


def _write_temp(data: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
        handle.write(data)
        return handle.name


class KubeGateway:
    """Plain-dict CRUD, status writes and Events, with errors mapped to ``mloop.k8s.errors``."""

    def __init__(self, connection: ClusterConnection, *, timeout_seconds: float = 30.0) -> None:
        self._connection = connection
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **connection.extra_headers}
        if connection.token:
            headers["Authorization"] = f"Bearer {connection.token}"
        self._session = aiohttp.ClientSession(
            base_url=connection.server.rstrip("/") + "/",
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            connector=aiohttp.TCPConnector(ssl=connection.ssl_context()),
        )

    async def close(self) -> None:
        await self._session.close()

    async def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        return await self._request("GET", rt.path(namespace, name))

    async def list(
        self, rt: ResourceType, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": label_selector} if label_selector else None
        result = await self._request("GET", rt.path(namespace), params=params)
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    async def create(
        self, rt: ResourceType, namespace: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create; raises ``AlreadyExists`` so callers with deterministic names can treat it as done."""
        return await self._request("POST", rt.path(namespace), body=body)

    async def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        subresource: str | None = None,
        patch_type: PatchType = "merge",
    ) -> dict[str, Any]:
        return await self._request(
            "PATCH",
            rt.path(namespace, name, subresource),
            body=patch,
            content_type=_CONTENT_TYPES[patch_type],
        )

    async def delete(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        try:
            await self._request("DELETE", rt.path(namespace, name), body={"propagationPolicy": "Background"})
        except ApiNotFound:
            return

    async def serves(self, rt: ResourceType) -> bool:
        """Whether the API server serves ``rt`` (discovery, like client-go's RESTMapper): for a CRD that is
        not installed every path is a 404, which a GET of the object alone cannot tell from a missing one."""
        base = f"/api/{rt.version}" if not rt.group else f"/apis/{rt.group}/{rt.version}"
        try:
            document = await self._request("GET", base)
        except ApiNotFound:
            return False
        return any(r.get("name") == rt.plural for r in document.get("resources") or [])

    async def read_secret(self, namespace: str, name: str) -> dict[str, bytes]:
        """Decoded Secret data; values stay in memory and are never logged."""
        secret = await self.get(SECRETS, namespace, name)
        data: Mapping[str, str] = secret.get("data") or {}
        decoded = {key: base64.b64decode(value) for key, value in data.items()}
        for key, value in (secret.get("stringData") or {}).items():
            decoded[key] = str(value).encode()
        return decoded

    async def record_event(
        self,
        involved: ObjectRef,
        *,
        type_: Literal["Normal", "Warning"],
        reason: str,
        message: str,
        now: datetime | None = None,
    ) -> None:
        """Post a core/v1 Event about ``involved``; a lost Event is logged by the caller, never fatal."""
        stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{involved.name}.", "namespace": involved.namespace},
            "involvedObject": {
                "apiVersion": involved.api_version,
                "kind": involved.kind,
                "name": involved.name,
                "namespace": involved.namespace,
                "uid": involved.uid,
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": EVENT_COMPONENT},
            "reportingComponent": EVENT_COMPONENT,
            "reportingInstance": EVENT_COMPONENT,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        await self.create(EVENTS, involved.namespace, body)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else None
        try:
            async with self._session.request(
                method, path.lstrip("/"), data=data, params=params, headers=headers
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise _translate(response.status, text, response.headers.get("Retry-After"), method, path)
                parsed: dict[str, Any] = json.loads(text) if text else {}
                return parsed
        except ApiError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ApiUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc


def _translate(status: int, text: str, retry_after: str | None, method: str, path: str) -> ApiError:
    """Map an HTTP error to our error types, keeping the server's own message (it names the field)."""
    try:
        message = str(json.loads(text).get("message", text))
    except (ValueError, AttributeError):
        message = text
    detail = f"{method} {path}: {status}: {message}"
    delay = _parse_retry_after(retry_after)
    if status == 404:
        return ApiNotFound(detail, status=status)
    if status == 409:
        reason = ""
        try:
            reason = str(json.loads(text).get("reason", ""))
        except (ValueError, AttributeError):
            reason = ""
        if method == "POST" and reason != "Conflict":
            return AlreadyExists(detail, status=status)
        return ApiConflict(detail, status=status)
    if status in (401, 403):
        return ApiForbidden(detail, status=status)
    if status in (400, 422):
        return ApiInvalid(detail, status=status)
    return ApiUnavailable(detail, status=status, retry_after=delay)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
