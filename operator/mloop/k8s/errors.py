"""Errors of the Kubernetes gateway: the rest of mloop never sees a client exception."""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "ApiConflict",
    "ApiError",
    "ApiForbidden",
    "ApiInvalid",
    "ApiNotFound",
    "ApiUnavailable",
]


class ApiError(Exception):
    """A Kubernetes API call failed; ``transient`` says whether a retry can help."""

    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ApiNotFound(ApiError):
    """The object (or its namespace or resource type) does not exist."""


class AlreadyExists(ApiError):
    """A create found an object of that name: for deterministic children this means done."""


class ApiConflict(ApiError):
    """A write carried a stale resourceVersion; re-read and try again."""

    transient = True


class ApiForbidden(ApiError):
    """RBAC refused the call: a packaging problem, not something a retry fixes soon."""


class ApiInvalid(ApiError):
    """The API server rejected the object (schema or CEL validation)."""


class ApiUnavailable(ApiError):
    """5xx, 429 or a broken connection: back off and retry (honouring ``retry_after``)."""

    transient = True
