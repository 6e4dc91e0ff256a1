"""A small synchronous Kubernetes client for the CLI: ``http.client`` + ``ssl`` over a kubeconfig.

Why not the operator's aiohttp gateway or the ``kubernetes`` package: a CLI command makes a handful of
requests, and importing either costs more than the whole command. Everything mloop needs is get, list,
create and merge-patch on its own group, plus discovery to tell "object missing" from "CRDs missing".
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import tempfile
from base64 import b64encode
from typing import Any
from urllib.parse import urlencode, urlsplit

from mloop import __version__

from .errors import ApiError, ConfigError, NotFound
from .kubeconfig import Connection

__all__ = ["GROUP", "KINDS", "VERSION", "Kube"]

GROUP = "mloop.io"
VERSION = "v1alpha1"
#: plural -> kind, the CLI's own copy so that importing it does not load the pydantic API models.
KINDS = {
    "mlprojects": "MLProject",
    "trainingruns": "TrainingRun",
    "modelversions": "ModelVersion",
    "modeldeployments": "ModelDeployment",
    "driftmonitors": "DriftMonitor",
}
CRDS_MISSING = "mloop CRDs are not installed in this cluster: kubectl apply -f crds/"


class Kube:
    """Requests against one API server; errors become ``CliError``s whose message names what to do."""

    def __init__(self, conn: Connection, timeout: float = 15.0) -> None:
        self.conn = conn
        self.timeout = timeout
        url = urlsplit(conn.server)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"server URL {conn.server!r} of context {conn.context!r} is not http(s)://host")
        self._host = url.hostname
        self._port = url.port
        self._base = url.path.rstrip("/")
        self._tls = self._ssl_context() if url.scheme == "https" else None
        self._headers = {"Accept": "application/json", "User-Agent": f"mloop-cli/{__version__}"}
        if conn.token:
            self._headers["Authorization"] = f"Bearer {conn.token}"
        elif conn.basic:
            self._headers["Authorization"] = "Basic " + b64encode(":".join(conn.basic).encode()).decode()
        self._crds_checked = False

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(
            cafile=str(self.conn.ca_file) if self.conn.ca_file else None, cadata=self.conn.ca_data
        )
        if self.conn.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.conn.cert_pem:
            # ssl only loads client certificates from files: a private temporary file, removed at once.
            fd, name = tempfile.mkstemp(prefix="mloop-client-", suffix=".pem")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(self.conn.cert_pem)
                ctx.load_cert_chain(name)
            except ssl.SSLError as exc:
                raise ConfigError(f"client certificate of context {self.conn.context!r}: {exc}") from exc
            finally:
                os.unlink(name)
        return ctx

    # -- raw requests -------------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        """One request; JSON in and out. Raises ``ConfigError`` when unreachable, ``ApiError`` on >= 400."""
        conn: http.client.HTTPConnection = (
            http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._tls)
            if self._tls
            else http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        )
        headers = dict(self._headers)
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, self._base + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except ssl.SSLError as exc:
            raise ConfigError(
                f"TLS error talking to the Kubernetes API at {self.conn.server}: {exc}"
            ) from exc
        except OSError as exc:  # refused, timed out, DNS failure
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConfigError(
                f"cannot reach the Kubernetes API at {self.conn.server} (context {self.conn.context!r}): "
                f"{reason}. Is the cluster running? (`mloop local up` starts the embedded one)"
            ) from exc
        finally:
            conn.close()
        text = raw.decode("utf-8", "replace")
        if response.status >= 400:
            raise self._error(response.status, text)
        try:
            return json.loads(text) if text else None
        except ValueError:
            raise ConfigError(
                f"{self.conn.server} (context {self.conn.context!r}) did not answer with JSON: "
                "is it a Kubernetes API server?"
            ) from None

    def _error(self, status: int, text: str) -> ApiError:
        try:
            payload = json.loads(text)
        except ValueError:
            payload = {}
        message = str(payload.get("message") or text.strip() or http.client.responses.get(status, ""))
        if status in (401, 403):
            message = (
                f"the API at {self.conn.server} refused user of context {self.conn.context!r}: {message}"
            )
        return ApiError(status, str(payload.get("reason") or ""), message)

    # -- mloop objects ------------------------------------------------------------------------------------

    @staticmethod
    def path(plural: str, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{GROUP}/{VERSION}"
        base += f"/namespaces/{namespace}/{plural}" if namespace else f"/{plural}"
        return base + (f"/{name}" if name else "")

    def ensure_crds(self, plural: str) -> None:
        """Discovery of mloop.io: ``ConfigError`` naming the fix when the CRDs (or this one) are missing."""
        if self._crds_checked:
            return
        try:
            resources = self.request("GET", f"/apis/{GROUP}/{VERSION}")
        except ApiError as exc:
            if exc.status == 404:
                raise ConfigError(CRDS_MISSING) from None
            raise
        if plural not in {r.get("name") for r in resources.get("resources", [])}:
            raise ConfigError(f"the {KINDS[plural]} CRD is missing ({CRDS_MISSING})")
        self._crds_checked = True

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        """The object, or ``NotFound`` listing the names that do exist (or ``ConfigError`` without CRDs)."""
        try:
            obj: dict[str, Any] = self.request("GET", self.path(plural, namespace, name))
            return obj
        except ApiError as exc:
            if exc.status != 404:
                raise
        self.ensure_crds(plural)
        names = sorted(o["metadata"]["name"] for o in self.list(plural, namespace))
        kind = KINDS[plural]
        hint = f"; existing: {', '.join(names)}" if names else f"; there are no {kind}s there"
        raise NotFound(f"{kind} {name} not found in namespace {namespace}{hint}")

    def list(self, plural: str, namespace: str | None, **query: str) -> list[dict[str, Any]]:
        """Every object of a kind in one namespace (``None``: all namespaces)."""
        suffix = f"?{urlencode(query)}" if query else ""
        try:
            items: list[dict[str, Any]] = self.request("GET", self.path(plural, namespace) + suffix)["items"]
        except ApiError as exc:
            if exc.status == 404:
                self.ensure_crds(plural)
            raise
        return items

    def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            obj: dict[str, Any] = self.request("POST", self.path(plural, namespace), body)
            return obj
        except ApiError as exc:
            if exc.status == 404:
                self.ensure_crds(plural)
            raise

    def merge_patch(self, plural: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch; ``metadata.resourceVersion`` in it makes it conditional (409 if stale)."""
        obj: dict[str, Any] = self.request(
            "PATCH", self.path(plural, namespace, name), patch, "application/merge-patch+json"
        )
        return obj
