"""Helpers of the pod runner tests: a JSON client, polling, manifests of our test images."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

T = TypeVar("T")
IMAGE = "ghcr.io/mloop-io/mloop-server:test"
WORKLOAD = str(Path(__file__).parent / "workload.py")

_PATHS = {
    "pods": "/api/v1",
    "secrets": "/api/v1",
    "configmaps": "/api/v1",
    "jobs": "/apis/batch/v1",
    "deployments": "/apis/apps/v1",
    "replicasets": "/apis/apps/v1",
}


class Kube:
    """Plain JSON over HTTP to the emulator (dicts in, dicts out)."""

    def __init__(self, url: str, namespace: str = "default") -> None:
        self.url = url
        self.namespace = namespace
        self.session = requests.Session()

    def _path(self, plural: str, name: str = "", sub: str = "") -> str:
        path = f"{self.url}{_PATHS[plural]}/namespaces/{self.namespace}/{plural}"
        return path + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def create(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.session.post(self._path(plural), json=body, timeout=10)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created

    def get(self, plural: str, name: str) -> dict[str, Any]:
        response = self.session.get(self._path(plural, name), timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def list(self, plural: str, selector: str = "") -> list[dict[str, Any]]:
        params = {"labelSelector": selector} if selector else {}
        response = self.session.get(self._path(plural), params=params, timeout=10)
        response.raise_for_status()
        return list(response.json()["items"])

    def patch(self, plural: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        response = self.session.patch(
            self._path(plural, name),
            json=patch,
            headers={"Content-Type": "application/merge-patch+json"},
            timeout=10,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def delete(self, plural: str, name: str) -> None:
        response = self.session.delete(
            self._path(plural, name), json={"propagationPolicy": "Background"}, timeout=10
        )
        response.raise_for_status()

    def log(self, name: str) -> str:
        response = self.session.get(self._path("pods", name, "log"), timeout=10)
        response.raise_for_status()
        return response.text


def eventually(check: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll until ``check`` returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        last = result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def condition(obj: dict[str, Any], type_: str) -> Any:
    """The condition of that type, if any."""
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c["type"] == type_), None)


def alive(pid: int) -> bool:
    """Whether a process exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def container(script: str, *args: str, name: str = "main", **extra: Any) -> dict[str, Any]:
    """A container of our image running inline Python."""
    return {"name": name, "image": IMAGE, "command": ["python", "-c", script, *args], **extra}


def server_container(name: str = "web", **extra: Any) -> dict[str, Any]:
    """The test HTTP server (workload.py) on $(POD_IP):8080 with /healthz toggled by a file."""
    return {
        "name": name,
        "image": IMAGE,
        "command": ["python", WORKLOAD, "serve", "--host", "$(POD_IP)", "--port", "8080"],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [{"name": "http", "containerPort": 8080}],
        **extra,
    }


def job(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A Job manifest (restartPolicy Never unless given)."""
    pod_spec = {"restartPolicy": spec.pop("restartPolicy", "Never"), "containers": containers}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": pod_spec}, **spec},
    }


def deployment(name: str, replicas: int, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A Deployment manifest labelled ``app: <name>``."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"terminationGracePeriodSeconds": 2, "containers": containers},
            },
            **spec,
        },
    }


def pids_of(pod: dict[str, Any]) -> list[int]:
    """PIDs from our ``mloop://<pid>`` container IDs."""
    return [
        int(s["containerID"].removeprefix("mloop://"))
        for s in pod.get("status", {}).get("containerStatuses") or []
        if s.get("containerID", "").startswith("mloop://")
    ]


PYTHON = sys.executable
