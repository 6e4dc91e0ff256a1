"""One place that maps domain errors to kopf's temporary and permanent errors, with capped backoff."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import kopf
from pydantic import ValidationError

from mloop.artifacts.errors import ArtifactError
from mloop.controller.metrics import OperatorMetrics
from mloop.controller.settings import OperatorSettings
from mloop.k8s.errors import ApiError, ApiForbidden, ApiInvalid
from mloop.reconcile.backoff import backoff_delay

__all__ = ["RetryLater", "mapped_errors", "retry_delay"]


class RetryLater(Exception):
    """Raised by orchestration when the status is written but the object should be looked at again soon."""

    def __init__(self, message: str, *, server_hint: float | None = None, delay: float | None = None) -> None:
        super().__init__(message)
        self.server_hint = server_hint
        self.delay = delay  # an exact schedule (a canary step), not a backoff


def retry_delay(settings: OperatorSettings, retry: int, server_hint: float | None = None) -> float:
    return backoff_delay(
        retry, base=settings.backoff_base_seconds, cap=settings.backoff_max_seconds, server_hint=server_hint
    )


@contextmanager
def mapped_errors(
    kind: str, *, retry: int, settings: OperatorSettings, metrics: OperatorMetrics
) -> Iterator[None]:
    """Turn what a reconcile raises into kopf's vocabulary, counting each error by reason.

    Transient API and S3 errors, and ``RetryLater``, back off exponentially (capped at
    ``MLOOP_BACKOFF_MAX_SECONDS``, 5 minutes by default, never below a server's ``Retry-After``);
    a spec the models reject, or a write the API server rejects, is permanent until the object changes.
    """
    try:
        yield
    except RetryLater as exc:
        metrics.reconciles.labels(kind, "retry").inc()
        delay = exc.delay if exc.delay is not None else retry_delay(settings, retry, exc.server_hint)
        raise kopf.TemporaryError(str(exc), delay=delay) from exc
    except ValidationError as exc:
        metrics.reconcile_errors.labels(kind, "InvalidSpec").inc()
        raise kopf.PermanentError(f"invalid spec: {exc}") from exc
    except ApiInvalid as exc:
        metrics.reconcile_errors.labels(kind, "ApiInvalid").inc()
        raise kopf.PermanentError(str(exc)) from exc
    except ApiForbidden as exc:
        # RBAC can be fixed without touching the object: retry, but slowly.
        metrics.reconcile_errors.labels(kind, "Forbidden").inc()
        raise kopf.TemporaryError(str(exc), delay=settings.backoff_max_seconds) from exc
    except ApiError as exc:
        metrics.reconcile_errors.labels(kind, type(exc).__name__).inc()
        raise kopf.TemporaryError(str(exc), delay=retry_delay(settings, retry, exc.retry_after)) from exc
    except ArtifactError as exc:
        metrics.reconcile_errors.labels(kind, exc.reason).inc()
        raise kopf.TemporaryError(str(exc), delay=retry_delay(settings, retry)) from exc
    else:
        metrics.reconciles.labels(kind, "ok").inc()
