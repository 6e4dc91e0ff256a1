"""Health checks by kind, each bounded by a short timeout so ``status`` answers at once."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

from .procs import ProcessId
from .state import Health

__all__ = ["check"]


def check(health: Health, process: ProcessId | None, timeout: float = 1.0) -> tuple[bool, str]:
    """``(healthy, word for the table)``: a dead process is never healthy, whatever its port says."""
    if process is None or not process.alive():
        return False, "down"
    if health.kind == "alive":
        return True, "running"
    if health.kind == "tcp":
        host, _, port = health.target.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=timeout).close()
        except OSError:
            return False, "port closed"
        return True, "ok"
    try:
        with urllib.request.urlopen(health.target, timeout=timeout) as response:  # noqa: S310 - our URL
            return (True, "ok") if response.status == 200 else (False, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (OSError, ValueError):
        return False, "no answer"
