"""Readiness, liveness and startup probes: ``httpGet`` and ``tcpSocket`` against the pod's address.

``exec`` and ``grpc`` probes are not supported locally (there is no container to exec into): they
count as succeeding, with one warning, so pods that use them still become ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = ["ProbeTracker", "probe_loop", "resolve_port", "run_probe"]

log = logging.getLogger(__name__)


@dataclass
class ProbeTracker:
    """Consecutive-result thresholds: the result flips only after enough agreeing probes."""

    success_threshold: int
    failure_threshold: int
    result: bool
    successes: int = 0
    failures: int = 0

    def observe(self, ok: bool) -> bool:
        """Record one probe; return the (possibly new) result."""
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= self.success_threshold:
                self.result = True
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= self.failure_threshold:
                self.result = False
        return self.result


def resolve_port(port: Any, container: Mapping[str, Any]) -> int | None:
    """A port number, or a named ``containerPort`` looked up in the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for item in container.get("ports") or []:
        if item.get("name") == port:
            return int(item["containerPort"])
    return None


async def run_probe(
    probe: Mapping[str, Any], container: Mapping[str, Any], pod_ip: str, session: aiohttp.ClientSession
) -> bool:
    """One probe attempt: True on success (HTTP 200-399, or a TCP connection accepted)."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    if "httpGet" in probe:
        spec = probe["httpGet"]
        port = resolve_port(spec.get("port"), container)
        if port is None:
            return False
        host = spec.get("host") or pod_ip
        scheme = str(spec.get("scheme") or "HTTP").lower()
        path = spec.get("path") or "/"
        headers = {h["name"]: h.get("value", "") for h in spec.get("httpHeaders") or [] if h.get("name")}
        headers.setdefault("User-Agent", "kube-probe/1.32")
        url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
        try:
            async with session.get(
                url,
                headers=headers,
                allow_redirects=False,
                ssl=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                return 200 <= response.status < 400
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False
    if "tcpSocket" in probe:
        spec = probe["tcpSocket"]
        port = resolve_port(spec.get("port"), container)
        if port is None:
            return False
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(spec.get("host") or pod_ip, port), timeout
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True
    log.warning("probe %s is not supported locally; counting it as succeeding", sorted(probe))
    return True


async def probe_loop(
    probe: Mapping[str, Any],
    container: Mapping[str, Any],
    pod_ip: str,
    session: aiohttp.ClientSession,
    on_result: Callable[[ProbeTracker], bool],
    *,
    initial: bool,
) -> None:
    """Probe every ``periodSeconds`` after ``initialDelaySeconds``; ``on_result`` sees the tracker
    after each attempt and returns True to end the loop (a startup probe ends on success)."""
    tracker = ProbeTracker(
        success_threshold=int(probe.get("successThreshold") or 1),
        failure_threshold=int(probe.get("failureThreshold") or 3),
        result=initial,
    )
    period = float(probe.get("periodSeconds") or 10)
    await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
    while True:
        tracker.observe(await run_probe(probe, container, pod_ip, session))
        if on_result(tracker):
            return
        await asyncio.sleep(period)
