"""Fault injection, so tests can prove clients back off, retry and resume.

Faults are decided per request from one seeded ``random.Random``, so a failing run replays the
same sequence. Configure from Python (``server.faults.configure(...)``) or over HTTP
(``POST /_emulator/faults`` with the same keys as JSON) when the server lives in another process.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from typing import Any

from .errors import ApiError
from .requestlog import WRITE_VERBS

__all__ = ["FaultInjector"]


@dataclasses.dataclass
class FaultInjector:
    """What to break.

    - ``write_failure_rate``: fraction of writes answered with one of ``write_failure_codes``
      (429 and 503 carry ``Retry-After: retry_after_seconds``).
    - ``fail_next_writes``: the next N writes fail that way regardless of the rate (deterministic tests).
    - ``conflict_rate`` / ``conflict_next``: updates and patches answered 409 Conflict (a "conflict storm").
    - ``watch_cut_every``: a watch stream is closed after every N events it sent.
    - ``resources``: if set, only these plurals are affected (e.g. ``["mlprojects"]``).
    """

    seed: int = 0
    write_failure_rate: float = 0.0
    write_failure_codes: tuple[int, ...] = (500, 503, 429)
    retry_after_seconds: int = 1
    fail_next_writes: int = 0
    conflict_rate: float = 0.0
    conflict_next: int = 0
    watch_cut_every: int = 0
    resources: tuple[str, ...] = ()
    injected: int = 0
    _random: random.Random = dataclasses.field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._random.seed(self.seed)

    _KEYS = (
        "seed",
        "write_failure_rate",
        "write_failure_codes",
        "retry_after_seconds",
        "fail_next_writes",
        "conflict_rate",
        "conflict_next",
        "watch_cut_every",
        "resources",
    )

    def configure(self, **settings: Any) -> None:
        """Change settings at runtime (unknown keys are an error, so typos do not silently do nothing)."""
        with self._lock:
            for key, value in settings.items():
                if key not in self._KEYS:
                    raise ValueError(f"unknown fault setting: {key}")
                setattr(self, key, tuple(value) if key in ("write_failure_codes", "resources") else value)
            if "seed" in settings:
                self._random.seed(self.seed)

    def reset(self) -> None:
        """No faults at all (the seed is kept)."""
        self.configure(
            write_failure_rate=0.0,
            fail_next_writes=0,
            conflict_rate=0.0,
            conflict_next=0,
            watch_cut_every=0,
            resources=(),
        )

    def to_dict(self) -> dict[str, Any]:
        """Current settings as JSON-ready data (``GET /_emulator/faults``)."""
        data = {key: getattr(self, key) for key in self._KEYS}
        data["write_failure_codes"] = list(self.write_failure_codes)
        data["resources"] = list(self.resources)
        data["injected"] = self.injected
        return data

    def check(self, verb: str, resource: str, name: str) -> None:
        """Raise the injected failure for this request, if any."""
        if verb not in WRITE_VERBS or (self.resources and resource not in self.resources):
            return
        with self._lock:
            error = self._decide(verb, resource, name)
            if error is not None:
                self.injected += 1
        if error is not None:
            raise error

    def _decide(self, verb: str, resource: str, name: str) -> ApiError | None:
        storm = self.conflict_next > 0 or (self.conflict_rate and self._random.random() < self.conflict_rate)
        if verb in ("update", "patch") and storm:
            self.conflict_next = max(0, self.conflict_next - 1)
            return ApiError(
                409,
                f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                reason="Conflict",
                details={"name": name, "kind": resource},
            )
        if self.fail_next_writes > 0 or (
            self.write_failure_rate and self._random.random() < self.write_failure_rate
        ):
            self.fail_next_writes = max(0, self.fail_next_writes - 1)
            code = self._random.choice(self.write_failure_codes) if self.write_failure_codes else 500
            headers = {"Retry-After": str(self.retry_after_seconds)} if code in (429, 503) else {}
            message = {
                429: "Too many requests, please try again later.",
                503: "The server is currently unable to handle the request (injected fault)",
            }.get(code, "Internal error occurred: injected fault")
            details = {"retryAfterSeconds": self.retry_after_seconds} if headers else None
            return ApiError(code, message, details=details, headers=headers)
        return None
