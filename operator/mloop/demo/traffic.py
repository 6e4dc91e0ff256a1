"""Client traffic for the demo: real HTTP requests to the served model, in a background thread."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import urllib3

from mloop.local.datasets import credit_frame

__all__ = ["TrafficGenerator"]


@dataclass
class TrafficGenerator:
    """Sends one applicant per request (a new connection each, so the Service spreads them over replicas).

    ``drift()`` switches to an older, richer population whose defaults follow other rules: what the
    DriftMonitor should notice and the retrained model should learn.
    """

    url: str
    features: Sequence[str]
    rate_per_second: float = 25.0
    sent: int = 0
    failed: int = 0
    drifted: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._normal = self._rows(credit_frame(4000, seed=11))
        self._shifted = self._rows(credit_frame(4000, seed=12, shift=1.0, concept=1.0))
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=5.0))

    def _rows(self, frame: Any) -> list[dict[str, Any]]:
        return [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame[list(self.features)].to_dict("records")
        ]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self._thread.start()

    def drift(self) -> None:
        self.drifted = True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def predict_one(self) -> dict[str, Any]:
        """One request the narration can show."""
        rows = self._shifted if self.drifted else self._normal
        return self._send(rows[self.sent % len(rows)])

    def _send(self, row: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"instances": [row]}).encode()
        response = self._http.request(
            "POST", self.url, body=body, headers={"Content-Type": "application/json", "Connection": "close"}
        )
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {response.data[:200]!r}")
        parsed: dict[str, Any] = json.loads(response.data)
        return parsed

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_second
        while not self._stop.is_set():
            rows = self._shifted if self.drifted else self._normal
            try:
                self._send(rows[self.sent % len(rows)])
            except (urllib3.exceptions.HTTPError, RuntimeError, OSError):
                self.failed += 1
            self.sent += 1
            time.sleep(interval)
