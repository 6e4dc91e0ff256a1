"""The embedded control plane for end-to-end tests: emulator, moto, the pod runner and the real operator.

Everything is a real process or server on 127.0.0.1; tests drive it only through the Kubernetes API and S3,
as a user would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mloop.local.s3 import ACCESS_KEY, SECRET_KEY
from tests.fixtures.apiserver import ApiServerHandle
from tests.fixtures.s3 import S3Handle
from tests.support.kube import Kube
from tests.support.processes import OperatorProcess
from tests.support.s3 import operator_s3_env

ROOT = Path(__file__).resolve().parents[2]
S3_SECRET = "mloop-s3"


@dataclass
class Plane:
    kube: Kube
    apiserver: ApiServerHandle
    s3: S3Handle
    bucket: str
    operator: OperatorProcess
    podrunner: subprocess.Popen[bytes]
    services: subprocess.Popen[bytes]
    home: Path


def start_podrunner(kubeconfig: Path, home: Path) -> subprocess.Popen[bytes]:
    log = (home / "podrunner.log").open("ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mloop.local.podrunner",
            "--kubeconfig",
            str(kubeconfig),
            "--home",
            str(home / "node"),
            "--restart-backoff-base",
            "0.5",
            "--max-grace",
            "5",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_services(kubeconfig: Path, home: Path) -> subprocess.Popen[bytes]:
    """The ClusterIP proxy: Services get a 127.2.x.y address that spreads connections over ready pods."""
    log = (home / "services.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "mloop.local.services", "--kubeconfig", str(kubeconfig)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_podrunner(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def plane(apiserver: ApiServerHandle, s3_server: S3Handle, tmp_path: Path) -> Iterator[Plane]:
    kube = Kube(apiserver.url)
    kube.apply_files(sorted((ROOT / "crds").glob("*.yaml")))
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": S3_SECRET, "namespace": "default"},
            "stringData": {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY},
        }
    )
    bucket = s3_server.unique_bucket("plane")
    podrunner = start_podrunner(apiserver.kubeconfig, tmp_path)
    services = start_services(apiserver.kubeconfig, tmp_path)
    operator = OperatorProcess(
        apiserver.kubeconfig,
        tmp_path / "operator.log",
        {
            **operator_s3_env(s3_server),
            "MLOOP_S3_DEFAULT_SECRET": S3_SECRET,
            "MLOOP_RESYNC_SECONDS": "2",
            "MLOOP_BACKOFF_BASE_SECONDS": "0.5",
            "MLOOP_BACKOFF_MAX_SECONDS": "3",
        },
    )
    operator.start()
    try:
        yield Plane(kube, apiserver, s3_server, bucket, operator, podrunner, services, tmp_path)
    finally:
        operator.stop()
        stop_podrunner(services)
        stop_podrunner(podrunner)
