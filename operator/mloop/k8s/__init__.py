"""Kubernetes gateway: the only place in the operator that imports the ``kubernetes`` client."""

from mloop.k8s.errors import (
    AlreadyExists,
    ApiConflict,
    ApiError,
    ApiForbidden,
    ApiInvalid,
    ApiNotFound,
    ApiUnavailable,
)
from mloop.k8s.gateway import KubeGateway, ObjectRef

__all__ = [
    "AlreadyExists",
    "ApiConflict",
    "ApiError",
    "ApiForbidden",
    "ApiInvalid",
    "ApiNotFound",
    "ApiUnavailable",
    "KubeGateway",
    "ObjectRef",
]
