"""Render charts/mloop with real Helm (helm-python-sdk, offline) for the value sets the tests share."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mloop.chartgen import render_chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "mloop"
NAMESPACE = "mloop-system"
POD_KINDS = ("operator", "trainer", "server", "drift", "minio")

#: Named value sets: every test that renders the chart runs over all of them.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "bundled-minio": {"minio": {"enabled": True}, "projectNamespaces": ["ml-a"]},
    "bundled-minio-ephemeral": {
        "minio": {
            "enabled": True,
            "persistence": {"enabled": False},
            "auth": {"existingSecret": "minio-root"},
        }
    },
    "external-s3": {
        "s3": {
            "endpoint": "s3.eu-west-1.amazonaws.com",
            "secure": True,
            "region": "eu-west-1",
            "existingSecret": "mloop-s3",
            "defaultSecret": "mloop-s3",
        },
        "networkPolicy": {"s3": {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [443]}},
    },
    "monitoring": {"serviceMonitor": {"enabled": True}, "grafana": {"dashboard": {"enabled": True}}},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "no-crds": {"crds": {"install": False}},
    "no-networkpolicy": {"networkPolicy": {"enabled": False}, "rbac": {"create": True}},
}


@functools.cache
def _render(values_json: str) -> tuple[dict[str, Any], ...]:
    return tuple(render_chart(json.loads(values_json), chart_dir=CHART, namespace=NAMESPACE))


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every object the chart renders for ``values`` (cached; callers must not mutate the objects)."""
    return list(_render(json.dumps(values or {}, sort_keys=True)))


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``Kind/name``, pod template) of every workload object."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]
        elif obj["kind"] == "CronJob":
            yield f"CronJob/{obj['metadata']['name']}", obj["spec"]["jobTemplate"]["spec"]["template"]


def operator_deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [
        d
        for d in of_kind(objects, "Deployment")
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "operator"
    ]
    return deployment


def operator_env(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    (container,) = operator_deployment(objects)["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item for item in container["env"]}
