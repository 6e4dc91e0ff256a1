"""Kubernetes ``Status`` errors: every failure leaves the server as the body a real API server sends.

Clients depend on these bodies: kubectl prints ``message``, the Python client raises ``ApiException``
with ``status``/``reason``, kopf reads ``code`` (410 restarts a watch) and ``details.causes``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "invalid",
    "method_not_allowed",
    "not_found",
    "status_body",
]

_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A ``metav1.Status`` failure body."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    """An error answered as a ``Status`` body with the matching HTTP code."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The ``Status`` JSON body."""
        return status_body(self.code, self.reason, self.message, self.details)


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    """``<resource>.<group> "<name>" not found`` as the apiserver words it."""
    return ApiError(
        404,
        f'{_qualified(resource, group)} "{name}" not found',
        details={"name": name, "group": group, "kind": resource},
    )


def already_exists(resource: str, group: str, name: str) -> ApiError:
    """Create of an existing name."""
    return ApiError(
        409,
        f'{_qualified(resource, group)} "{name}" already exists',
        reason="AlreadyExists",
        details={"name": name, "group": group, "kind": resource},
    )


def conflict(resource: str, group: str, name: str) -> ApiError:
    """Optimistic-concurrency failure: the caller's resourceVersion is stale."""
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": '
        "the object has been modified; please apply your changes to the latest version and try again",
        reason="Conflict",
        details={"name": name, "group": group, "kind": resource},
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """A 422 ``Invalid`` with one cause per field error: ``(reason, field, full_message)``.

    The message aggregates like apimachinery's ``NewInvalid``: one error verbatim, several in brackets.
    Each cause's message is the error body without the leading ``<field>: ``.
    """
    texts = [message for _, _, message in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    return ApiError(
        422,
        f'{qualified} "{name}" is invalid: {joined}',
        reason="Invalid",
        details={
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [
                {"reason": reason, "message": message.removeprefix(f"{field}: "), "field": field}
                for reason, field, message in causes
            ],
        },
    )


def bad_request(message: str) -> ApiError:
    """A malformed request (bad body, bad selector, name mismatch)."""
    return ApiError(400, message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    """A verb the resource does not support."""
    return ApiError(405, message)


def expired(message: str) -> ApiError:
    """410 Gone: a watch or continue token from before the bounded history."""
    return ApiError(410, message, reason="Expired")
