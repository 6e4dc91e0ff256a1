"""Test support for Services on loopback: pods written straight through the API (no pod runner), tiny HTTP
servers bound to their 127.1.x.y addresses, and the ``python -m mloop.local.services`` process.
"""

from __future__ import annotations

import http.client
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.kube import Kube, wait_for

NS = "default"
ENDPOINTS_PATH = "/api/v1/namespaces/default/endpoints"


class PodServer:
    """An HTTP server on ``ip:port`` answering every GET with its pod name (keep-alive capable)."""

    def __init__(self, name: str, ip: str, port: int = 8080) -> None:
        pod_name = name

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                body = pod_name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.name = name
        self.server = http.server.ThreadingHTTPServer((ip, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def pod_body(name: str, labels: dict[str, str], port: int = 8080, port_name: str = "http") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "nodeName": "mloop-local",
            "containers": [
                {"name": "server", "image": "img", "ports": [{"name": port_name, "containerPort": port}]}
            ],
        },
    }


def set_pod_status(kube: Kube, name: str, ip: str, *, ready: bool, phase: str = "Running") -> None:
    """What the pod runner (a kubelet) would write: phase, podIP and the Ready condition."""
    status = {
        "phase": phase,
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    kube.request(
        "PATCH",
        kube.path("v1", "Pod", NS, name) + "/status",
        {"status": status},
        "application/merge-patch+json",
    )


def add_pod(kube: Kube, name: str, labels: dict[str, str], ip: str, *, ready: bool = True) -> dict[str, Any]:
    pod = kube.create(pod_body(name, labels))
    set_pod_status(kube, name, ip, ready=ready)
    return pod


def service_body(
    name: str,
    selector: dict[str, str],
    *,
    port: int = 8080,
    target: int | str = "http",
    type_: str = "ClusterIP",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "type": type_,
            "selector": selector,
            "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }


def cluster_ip(kube: Kube, name: str) -> str:
    address: str = wait_for(
        lambda: kube.get("v1", "Service", name).get("spec", {}).get("clusterIP"), timeout=10, what="clusterIP"
    )
    return address


def endpoints(kube: Kube, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kube.request("GET", f"{ENDPOINTS_PATH}/{name}")
    return result


def ready_ips(kube: Kube, name: str) -> list[str]:
    try:
        subsets = endpoints(kube, name).get("subsets") or []
    except Exception:
        return []
    return sorted(a["ip"] for s in subsets for a in s.get("addresses") or [])


def fetch(host: str, port: int, timeout: float = 5.0) -> str:
    """One request on a new connection (``Connection: close``): the proxy balances connections."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def spread(host: str, port: int, requests: int) -> Counter[str]:
    return Counter(fetch(host, port) for _ in range(requests))


def wait_serving(host: str, port: int, names: set[str], timeout: float = 10.0) -> None:
    """Until new connections reach exactly ``names`` (the proxy has caught up with the Endpoints)."""

    def check() -> bool:
        try:
            return set(spread(host, port, 2 * len(names))) == names
        except OSError:
            return False

    wait_for(check, timeout=timeout, interval=0.05, what=f"{host}:{port} serving {sorted(names)}")


class ServicesProcess:
    """``python -m mloop.local.services`` against a kubeconfig, stopped (and waited for) at teardown."""

    def __init__(self, kubeconfig: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mloop.local.services", "--kubeconfig", str(kubeconfig)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_for(self._ready, timeout=20, interval=0.05, what="services ready")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"services exited with {self.proc.returncode}:\n{self.logs()}")
        return "mloop services: ready" in self.logs()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def wait_gone(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.05)
