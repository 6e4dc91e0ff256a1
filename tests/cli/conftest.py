"""Fixtures for the ``mloop`` CLI tests: an isolated home, an emulator with the mloop CRDs, and a runner.

Every test gets its own ``HOME`` and no ``KUBECONFIG``/``MLOOP_S3_*``, so nothing on the machine (a real
``~/.kube/config``, a running ``mloop local``) can leak into what the CLI picks.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.cli.__main__ import main
from tests.fixtures.apiserver import ApiServerHandle
from tests.support.kube import Kube

ROOT = Path(__file__).resolve().parents[2]
API = "mloop.io/v1alpha1"
PLURALS = {
    "MLProject": "mlprojects",
    "TrainingRun": "trainingruns",
    "ModelVersion": "modelversions",
    "ModelDeployment": "modeldeployments",
    "DriftMonitor": "driftmonitors",
}


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("KUBECONFIG", "MLOOP_S3_ENDPOINT", "MLOOP_S3_ACCESS_KEY", "MLOOP_S3_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """``run_cli(*argv)``: ``main(argv)`` in this process, with its exit code and captured output."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_subprocess(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    """``python -m mloop.cli ...`` as a user types it, with the test's environment (HOME, KUBECONFIG)."""
    done = subprocess.run(
        [sys.executable, "-m", "mloop.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


class Cluster:
    """The emulator with the mloop CRDs, and helpers to create objects with a status as the operator would."""

    def __init__(self, handle: ApiServerHandle) -> None:
        self.handle = handle
        self.kube = Kube(handle.url)
        self.kubeconfig = handle.kubeconfig

    def create(self, obj: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
        created = self.kube.create(obj)
        if status is not None:
            path = self.kube.path(
                API, obj["kind"], created["metadata"]["namespace"], created["metadata"]["name"]
            )
            created = self.kube.request(
                "PATCH", path + "/status", {"status": status}, "application/merge-patch+json"
            )
        return created

    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        return self.kube.get(API, kind, name, namespace)


@pytest.fixture
def cluster(apiserver: ApiServerHandle, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """The emulator with CRDs installed; ``KUBECONFIG`` points at it."""
    handle = Cluster(apiserver)
    handle.kube.apply_files(sorted((ROOT / "crds").glob("*.yaml")))
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig))
    return handle


def example(kind: str, name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    """The example of that kind from ``examples/``, renamed, with spec fields overridden."""
    file = {"MLProject": "mlproject", "TrainingRun": "trainingrun", "ModelVersion": "modelversion"}.get(
        kind, kind.lower()
    )
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((ROOT / "examples" / f"{file}.yaml").read_text()))
    body["metadata"] = {"name": name, "namespace": namespace}
    body["spec"].update(spec)
    return body


def cond(type_: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
