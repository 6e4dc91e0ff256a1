"""Start the real operator as a child process, wait for its health endpoint, and kill it like a node would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import urllib3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OperatorProcess:
    """``python -m mloop.operator`` with a kubeconfig and S3 settings, logging to a file the test can show."""

    def __init__(self, kubeconfig: Path, log_path: Path, env: Mapping[str, str]) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.extra_env = dict(env)
        self.health_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "MLOOP_HEALTH_HOST": "127.0.0.1",
            "MLOOP_HEALTH_PORT": str(self.health_port),
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mloop.operator"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        http = urllib3.PoolManager(retries=False, timeout=1.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if http.request("GET", f"http://127.0.0.1:{self.health_port}/healthz").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"operator not healthy after {timeout}s:\n{self.logs()}")

    def metrics(self) -> str:
        http = urllib3.PoolManager(retries=False, timeout=2.0)
        return http.request("GET", f"http://127.0.0.1:{self.health_port}/metrics").data.decode()

    def kill(self) -> None:
        """SIGKILL: no clean-up handlers run, as when a node dies."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""
