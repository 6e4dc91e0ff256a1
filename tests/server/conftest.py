"""Fixtures for the prediction server: real models from the real trainer, real server processes.

Models are trained once per session (small datasets, fast candidates): ``binary`` (numeric + one
categorical, with missing values), ``multiclass`` (wine, three classes) and ``regression`` (diabetes with a
categorical column). Servers are ``python -m mloop.server`` subprocesses on 127.0.0.1, reached over HTTP.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.support import binary_frame, multiclass_frame, project, regression_frame, run

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TrainedModel:
    kind: str
    path: Path
    sha256: str
    result: dict[str, Any]

    @property
    def signature(self) -> dict[str, Any]:
        sig: dict[str, Any] = self.result["signature"]
        return sig

    @property
    def features(self) -> list[str]:
        return [i["name"] for i in self.signature["inputs"]]


_SPECS = {
    "binary": (("binary-classification", "label", "roc_auc"), lambda: binary_frame(300)),
    "multiclass": (("multiclass-classification", "cultivar", "accuracy"), multiclass_frame),
    "regression": (("regression", "target", "rmse"), regression_frame),
}


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainedModel]:
    out: dict[str, TrainedModel] = {}
    for kind, (args, frame) in _SPECS.items():
        tmp = tmp_path_factory.mktemp(f"model-{kind}")
        doc = project(*args)
        doc["spec"]["training"] = {"candidates": [_fast_candidate(args[0])]}
        code, result = run(tmp, doc, frame())
        assert code == 0, result
        path = tmp / "out" / "model.onnx"
        out[kind] = TrainedModel(kind, path, hashlib.sha256(path.read_bytes()).hexdigest(), result)
    return out


def _fast_candidate(task: str) -> dict[str, Any]:
    if task == "regression":
        return {"algorithm": "ridge", "params": {"alpha": 1.0}}
    return {"algorithm": "logistic_regression", "params": {"C": 1.0}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """``python -m mloop.server`` on 127.0.0.1; ``request`` talks HTTP/1.1 over a kept-alive connection."""

    model: TrainedModel
    log_path: Path
    name: str = "demo"
    version: str = "v1"
    extra: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _conn: http.client.HTTPConnection | None = None

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "mloop.server", "--model", str(self.model.path), "--sha256",
            self.model.sha256, "--name", self.name, "--version", self.version, "--host", "127.0.0.1",
            "--port", str(self.port), *self.extra,
        ]  # fmt: skip

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {**os.environ, **self.env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv(), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                status, _ = self.request("GET", "/readyz")
                if status == 200:
                    return self
            except OSError:
                self._conn = None
            time.sleep(0.05)
        raise TimeoutError(f"server not ready:\n{self.logs()}")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One request; a kept-alive connection the server closed while idle is reopened once."""
        reused = self._conn is not None
        try:
            return self._request(method, path, body, headers)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            if not reused:
                raise
            return self._request(method, path, body, headers)

    def _request(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> tuple[int, bytes]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            self._conn.request(method, path, body=body, headers=dict(headers or {}))
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise
        if response.getheader("connection", "").lower() == "close":
            self._conn.close()
            self._conn = None
        return response.status, data

    def json(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.request(method, path, body, {"Content-Type": "application/json"})
        return status, json.loads(data) if data else None

    def metrics(self) -> dict[str, float]:
        """``name{labels}`` → value for every sample of ``/metrics``."""
        status, data = self.request("GET", "/metrics")
        assert status == 200
        out: dict[str, float] = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for key, value in self.metrics().items():
            base, _, rest = key.partition("{")
            if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
                total += value
        return total

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def servers(
    models: dict[str, TrainedModel], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServerProcess]]:
    """One server per model kind for the whole session (read-only tests share them)."""
    logs = tmp_path_factory.mktemp("server-logs")
    started: dict[str, ServerProcess] = {}
    try:
        for kind, model in models.items():
            started[kind] = ServerProcess(model, logs / f"{kind}.log", name=kind).start()
        yield started
    finally:
        for server in started.values():
            server.stop()
