"""Reusable pieces for benchmarks that run real servers: the API emulator in a thread, a tiny REST client,
child processes with their CPU time, and polling. Nothing here imports from ``tests``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import urllib3

from mloop.local.apiserver import ApiServer

__all__ = [
    "USER_AGENT",
    "ChildProcess",
    "Rest",
    "RestError",
    "ThreadedApiServer",
    "free_port",
    "process_cpu_seconds",
    "wait_for",
]

T = TypeVar("T")
USER_AGENT = "mloop-bench"  # the emulator's request log tells our own requests from the operator's by this


def free_port() -> int:
    """A port free right now on 127.0.0.1 (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], T | None], *, timeout: float, interval: float = 0.1, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy; a timeout names what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what or check}")
        time.sleep(interval)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads) from ``/proc/<pid>/stat``; no psutil needed."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class ThreadedApiServer:
    """``mloop.local.apiserver.ApiServer`` on its own event loop in a daemon thread, so synchronous code
    and child processes can reach it. A context manager: leaving it stops the server and the thread.
    """

    def __init__(self, directory: Path, **kwargs: Any) -> None:
        self.directory = directory
        self.server = ApiServer(**kwargs)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="apiserver", daemon=True)
        self.url = ""
        self.kubeconfig = directory / "kubeconfig"

    def __enter__(self) -> ThreadedApiServer:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self.server.start("127.0.0.1", 0), self.loop)
        self.url = future.result(10)
        self.server.write_kubeconfig(self.kubeconfig)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            if not self.thread.is_alive():
                self.loop.close()


class RestError(Exception):
    """The API answered with an error status."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


class Rest:
    """Plain JSON over HTTP to the emulator, as kubectl would; requests carry ``USER_AGENT``."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=15), maxsize=4)

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
        response = self.http.request(method, self.url + path, body=data, headers=headers)
        text = response.data.decode()
        if response.status >= 400:
            raise RestError(response.status, text)
        return json.loads(text) if text else None

    def get(self, path: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", path)
        return result

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", path, body)
        return result

    def merge_patch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PATCH", path, body, "application/merge-patch+json")
        return result

    def close(self) -> None:
        self.http.clear()


class ChildProcess:
    """A child process logging to a file, stopped with SIGTERM then SIGKILL, with its CPU time readable."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("process not started")
        return self.proc.pid

    def start(self) -> ChildProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def wait_healthy(self, url: str, timeout: float = 60.0) -> None:
        """Poll ``url`` until it answers 200; a child that exits first is an error with its log."""
        http = urllib3.PoolManager(retries=False, timeout=1.0)

        def healthy() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.argv[:3]} exited early:\n{self.logs()}")
            try:
                return http.request("GET", url).status == 200
            except urllib3.exceptions.HTTPError:
                return False

        wait_for(healthy, timeout=timeout, interval=0.1, what=f"{url} to answer 200")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; never leaves the child behind."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def logs(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def __enter__(self) -> ChildProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
