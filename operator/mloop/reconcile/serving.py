"""Serving builders: one Deployment per served version, its PDB, and the stable track's HPA.

A Deployment per version (not per role) is what makes rollback instant: the previous stable stays, scaled to
zero, with its pods' spec untouched. The Services and the HTTPRoute that send traffic to them are in
``mloop.reconcile.traffic``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from mloop.api.modeldeployment import ModelDeployment
from mloop.api.modelversion import ModelVersion
from mloop.reconcile.naming import child_name
from mloop.reconcile.owners import child_labels, owner_reference
from mloop.reconcile.pods import (
    S3Access,
    container_security_context,
    pod_security_context,
    resources_of,
    s3_env,
)

__all__ = [
    "SERVER_PORT",
    "Role",
    "build_hpa",
    "build_pdb",
    "build_serving_deployment",
    "serving_name",
]

SERVER_PORT = 8080
SCRATCH = "/tmp"  # noqa: S108 - a path inside the container, backed by an emptyDir volume
DEFAULT_SERVER_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
Role = Literal["stable", "canary"]


def serving_name(deployment: str, version: str) -> str:
    """``<modeldeployment>-<version>``: one apps/v1 Deployment per served version."""
    return child_name(deployment, version)


def _labels(md: ModelDeployment, version: str, role: Role | None = None) -> dict[str, str]:
    name = md.metadata.name or ""
    labels = child_labels(
        name="mloop-server", component="server", instance=name, project=md.spec.project_ref.name
    )
    labels.update({"mloop.io/deployment": name, "mloop.io/version": version})
    if role:
        labels["mloop.io/role"] = role
    return labels


def build_serving_deployment(
    md_body: Mapping[str, Any],
    version: ModelVersion,
    *,
    role: Role,
    replicas: int,
    image: str,
    s3: S3Access,
    traffic_uri: str | None,
) -> dict[str, Any]:
    """The prediction server for one version; it refuses to serve unless the model's SHA-256 matches."""
    md = ModelDeployment.model_validate(md_body)
    md_name = md.metadata.name or ""
    version_name = version.metadata.name or ""
    pod_labels = _labels(md, version_name, role)
    args = [
        "--model", version.spec.artifact.uri,
        "--sha256", version.spec.artifact.sha256,
        "--name", md.spec.project_ref.name,
        "--version", version_name,
        "--role", role,
        "--host", "$(POD_IP)",
        "--port", str(SERVER_PORT),
        "--deployment", md_name,
    ]  # fmt: skip
    if traffic_uri and md.spec.logging.enabled:
        args += ["--traffic-uri", traffic_uri]
    env = [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        *s3_env(s3),
        {"name": "HOME", "value": SCRATCH},
        {"name": "TMPDIR", "value": SCRATCH},
    ]
    probe = {
        "httpGet": {"path": "/v2/health/ready", "port": SERVER_PORT},
        "periodSeconds": 2,
        "failureThreshold": 3,
    }
    container = {
        "name": "server",
        "image": md.spec.image or image,
        "args": args,
        "env": env,
        "ports": [{"name": "http", "containerPort": SERVER_PORT}],
        "readinessProbe": probe,
        "livenessProbe": {
            "httpGet": {"path": "/v2/health/live", "port": SERVER_PORT},
            "periodSeconds": 10,
            "failureThreshold": 3,
            "initialDelaySeconds": 10,
        },
        "resources": resources_of(md.spec.resources, DEFAULT_SERVER_RESOURCES),
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": SCRATCH}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": serving_name(md_name, version_name),
            "namespace": md.metadata.namespace,
            "labels": pod_labels,
            "ownerReferences": [owner_reference(md_body)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"mloop.io/deployment": md_name, "mloop.io/version": version_name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": 20,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        },
    }


def build_pdb(md_body: Mapping[str, Any], version: str) -> dict[str, Any]:
    """Voluntary evictions never take a version's last ready pod."""
    md = ModelDeployment.model_validate(md_body)
    name = md.metadata.name or ""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": serving_name(name, version),
            "namespace": md.metadata.namespace,
            "labels": _labels(md, version),
            "ownerReferences": [owner_reference(md_body)],
        },
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": {"mloop.io/deployment": name, "mloop.io/version": version}},
        },
    }


def build_hpa(md_body: Mapping[str, Any], version: str) -> dict[str, Any] | None:
    """The stable track's HorizontalPodAutoscaler when ``autoscaling`` is set."""
    md = ModelDeployment.model_validate(md_body)
    scaling = md.spec.autoscaling
    if scaling is None:
        return None
    name = md.metadata.name or ""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": name,
            "namespace": md.metadata.namespace,
            "labels": _labels(md, version),
            "ownerReferences": [owner_reference(md_body)],
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": serving_name(name, version),
            },
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.target_cpu_utilization,
                        },
                    },
                }
            ],
        },
    }
