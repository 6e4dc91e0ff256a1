"""Pieces every pod the operator creates shares: the Pod Security Standard ``restricted`` and S3 settings.

One place, so the training Job, the drift Job and the serving Deployments cannot drift apart on security.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mloop.api.common import ResourceRequirements

__all__ = [
    "RUN_AS_USER",
    "S3Access",
    "container_security_context",
    "pod_security_context",
    "resources_of",
    "s3_env",
]

#: The non-root user our images declare (images/<component>/Dockerfile).
RUN_AS_USER = 10001


def pod_security_context() -> dict[str, Any]:
    """``restricted``: non-root, a fixed UID/GID, the runtime's default seccomp profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    """``restricted`` for a container, plus a read-only root filesystem (writable dirs are emptyDirs)."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources_of(requirements: ResourceRequirements | None, default: Mapping[str, Any]) -> dict[str, Any]:
    """The container's resources: the spec's when given, else a sane default (never unbounded)."""
    if requirements is None:
        return {key: dict(value) for key, value in default.items()}
    return requirements.model_dump(by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class S3Access:
    """How a workload reaches S3: endpoint and, by reference only, the Secret holding the credentials."""

    endpoint: str
    secure: bool = False
    region: str | None = None
    secret_name: str | None = None
    access_key_id_key: str = "AWS_ACCESS_KEY_ID"
    secret_access_key_key: str = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 - a key name, not a secret


def s3_env(access: S3Access) -> list[dict[str, Any]]:
    """Environment for ``mloop.artifacts.ArtifactStore.from_env``; secret values never enter the manifest."""
    env: list[dict[str, Any]] = [
        {"name": "MLOOP_S3_ENDPOINT", "value": access.endpoint},
        {"name": "MLOOP_S3_SECURE", "value": "true" if access.secure else "false"},
    ]
    if access.region:
        env.append({"name": "MLOOP_S3_REGION", "value": access.region})
    if access.secret_name:
        for name, key in (
            ("MLOOP_S3_ACCESS_KEY", access.access_key_id_key),
            ("MLOOP_S3_SECRET_KEY", access.secret_access_key_key),
        ):
            env.append(
                {"name": name, "valueFrom": {"secretKeyRef": {"name": access.secret_name, "key": key}}}
            )
    return env
