"""A tiny synchronous REST helper for tests: plain HTTP to the emulator, the way kubectl would talk to it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import urllib3
import yaml

T = TypeVar("T")

CORE = {"Namespace": "namespaces", "Secret": "secrets", "ConfigMap": "configmaps", "Event": "events"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition"}


def plural_of(kind: str) -> str:
    return CORE.get(kind, kind.lower() + "s")


class Kube:
    """Create, read and wait on objects by their apiVersion and kind."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=15))

    def path(self, api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespace and kind not in CLUSTER_SCOPED:
            base += f"/namespaces/{namespace}"
        base += f"/{plural_of(kind)}"
        return base + (f"/{name}" if name else "")

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        response = self.http.request(
            method, self.url + path, body=data, headers={"Content-Type": content_type}
        )
        text = response.data.decode()
        if response.status >= 400:
            raise KubeError(response.status, text)
        return json.loads(text) if text else None

    def create(self, obj: dict[str, Any], namespace: str | None = "default") -> dict[str, Any]:
        ns = obj.get("metadata", {}).get("namespace", namespace)
        result: dict[str, Any] = self.request("POST", self.path(obj["apiVersion"], obj["kind"], ns), obj)
        return result

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = "default"
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", self.path(api_version, kind, namespace, name))
        return result

    def list(self, api_version: str, kind: str, namespace: str | None = "default") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.request("GET", self.path(api_version, kind, namespace))["items"]
        return items

    def apply_files(self, paths: Iterable[Path]) -> None:
        for path in paths:
            for doc in yaml.safe_load_all(path.read_text()):
                if doc:
                    self.create(doc)

    def events_for(self, name: str, namespace: str = "default") -> list[dict[str, Any]]:
        return [e for e in self.list("v1", "Event", namespace) if e["involvedObject"]["name"] == name]


class KubeError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def wait_for(
    check: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> T:
    """Poll ``check`` until it returns something truthy; fail with what was last seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}; last seen: {last!r}")


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == type_:
            return dict(cond)
    return None
