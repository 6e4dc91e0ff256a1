"""A project's S3: the operator's own client for it, and how its pods reach it (by Secret reference only)."""

from __future__ import annotations

from mloop.api.mlproject import MLProject
from mloop.artifacts import ArtifactStore
from mloop.controller.deps import Dependencies
from mloop.k8s import ApiNotFound
from mloop.reconcile.pods import S3Access

__all__ = ["MissingCredentialsError", "s3_access_for", "store_for"]


class MissingCredentialsError(Exception):
    """The project names a Secret that is missing or lacks a key."""


async def store_for(project: MLProject, deps: Dependencies) -> ArtifactStore:
    """The operator's client for the project's storage; secret values never leave this function's locals."""
    storage = project.spec.storage
    ref = storage.credentials_secret_ref
    if ref is None:
        return deps.stores.get(storage)
    namespace = project.metadata.namespace or "default"
    try:
        data = await deps.kube.read_secret(namespace, ref.name)
    except ApiNotFound as exc:
        raise MissingCredentialsError(f"Secret {namespace}/{ref.name} not found") from exc
    missing = [k for k in (ref.access_key_id_key, ref.secret_access_key_key) if k not in data]
    if missing:
        raise MissingCredentialsError(f"Secret {namespace}/{ref.name} has no key(s) {', '.join(missing)}")
    return deps.stores.get(
        storage, data[ref.access_key_id_key].decode(), data[ref.secret_access_key_key].decode()
    )


def s3_access_for(project: MLProject, deps: Dependencies) -> S3Access:
    """Endpoint and Secret reference for the project's pods: its Secret, else the operator's default."""
    storage = project.spec.storage
    endpoint, secure = deps.stores.endpoint_of(storage)
    ref = storage.credentials_secret_ref
    if ref is not None:
        return S3Access(
            endpoint,
            secure,
            storage.region or deps.settings.s3_region,
            ref.name,
            ref.access_key_id_key,
            ref.secret_access_key_key,
        )
    return S3Access(
        endpoint, secure, storage.region or deps.settings.s3_region, deps.settings.s3_default_secret
    )
