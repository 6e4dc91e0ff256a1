"""Retry policy for transient storage errors: capped exponential backoff with jitter.

This is the only retry layer: the urllib3 pool under minio is built with retries disabled, so the number of
requests an outage costs is exactly ``attempts`` and tests can count them.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mloop.artifacts.errors import ArtifactError, StorageUnavailable

__all__ = ["RetryPolicy"]

T = TypeVar("T")
log = logging.getLogger("mloop.artifacts")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient errors.

    The delay before retry ``n`` (1-based) is drawn uniformly from ``[cap/2, cap]`` where
    ``cap = min(max_delay, base_delay * 2**(n-1))``: exponential and capped, with "equal jitter" so that many
    clients hitting the same outage spread out but still really back off. ``seed`` makes the jitter
    reproducible; ``sleep`` is injectable for tests.
    """

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    seed: int | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    _rng: random.Random = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        # Jitter is not security-sensitive: a seeded PRNG keeps tests reproducible.
        object.__setattr__(self, "_rng", random.Random(self.seed))  # noqa: S311

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the wait after the first failure)."""
        cap = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return self._rng.uniform(cap / 2, cap)

    def run(self, fn: Callable[[], T], *, what: str) -> T:
        """Call ``fn``; retry it while it raises a transient ``ArtifactError``.

        Permanent errors propagate at once. When the attempts run out, a ``StorageUnavailable`` says how many
        were made and chains the last error.
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except ArtifactError as exc:
                if not exc.transient:
                    raise
                if attempt == self.attempts:
                    raise StorageUnavailable(
                        f"{exc.message} (gave up after {self.attempts} attempt"
                        f"{'s' if self.attempts != 1 else ''})",
                        uri=exc.uri,
                    ) from exc
                pause = self.delay(attempt)
                log.warning(
                    "%s: attempt %d/%d failed (%s); retrying in %.2fs",
                    what,
                    attempt,
                    self.attempts,
                    exc.message,
                    pause,
                )
                self.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover
