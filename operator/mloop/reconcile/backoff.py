"""Retry delays: exponential, capped, and never shorter than what the server asked for."""

from __future__ import annotations

__all__ = ["backoff_delay"]


def backoff_delay(
    retry: int, *, base: float = 5.0, cap: float = 300.0, server_hint: float | None = None
) -> float:
    """Delay before retry number ``retry`` (0-based): ``base * 2**retry`` up to ``cap`` (5 minutes).

    A ``Retry-After`` from the API server or S3 wins when it is longer, still within the cap.
    """
    delay = min(cap, base * 2.0 ** max(0, min(retry, 30)))
    if server_hint is not None:
        delay = max(delay, min(cap, server_hint))
    return delay
