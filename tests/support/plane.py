"""The embedded control plane for end-to-end tests: emulator, moto, the pod runner and the real operator.

Everything is a real process or server on 127.0.0.1; tests drive it only through the Kubernetes API and S3,
as a user would.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mloop.local.s3 import ACCESS_KEY, SECRET_KEY
from tests.fixtures.apiserver import ApiServerHandle
from tests.fixtures.s3 import S3Handle
from tests.support.faults import FaultProxy
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


_SUBNETS = itertools.count(os.getpid())


def loopback_ranges() -> tuple[str, str]:
    """A /24 of pod addresses and one of Service addresses for one plane.

    Every plane would otherwise hand out the same 127.1.0.x pod and 127.2.0.x Service addresses, so two
    planes on one host (parallel test runs) would probe, and send traffic to, each other's servers.
    """
    n = next(_SUBNETS) % 254 + 1
    return f"127.1.{n}.0/24", f"127.2.{n}.0/24"


def start_podrunner(kubeconfig: Path, home: Path, pod_network: str | None = None) -> subprocess.Popen[bytes]:
    log = (home / "podrunner.log").open("ab")
    network = ["--pod-network", pod_network] if pod_network else []
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
            *network,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_services(kubeconfig: Path, home: Path, cluster_ips: str | None = None) -> subprocess.Popen[bytes]:
    """The ClusterIP proxy: Services get a 127.2.x.y address that spreads connections over ready pods."""
    log = (home / "services.log").open("ab")
    network = ["--cluster-ip-range", cluster_ips] if cluster_ips else []
    return subprocess.Popen(
        [sys.executable, "-m", "mloop.local.services", "--kubeconfig", str(kubeconfig), *network],
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


@contextmanager
def running_plane(
    apiserver: ApiServerHandle, s3_server: S3Handle, tmp_path: Path, *, s3_endpoint: str | None = None
) -> Iterator[Plane]:
    """The whole plane; ``s3_endpoint`` (default: moto) is what the operator and every workload it starts
    use for S3, so a proxy there sits between moto and everything mloop does."""
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
    pod_network, cluster_ips = loopback_ranges()
    podrunner = start_podrunner(apiserver.kubeconfig, tmp_path, pod_network)
    services = start_services(apiserver.kubeconfig, tmp_path, cluster_ips)
    s3_env = operator_s3_env(s3_server)
    if s3_endpoint is not None:
        s3_env["MLOOP_S3_ENDPOINT"] = s3_endpoint
    operator = OperatorProcess(
        apiserver.kubeconfig,
        tmp_path / "operator.log",
        {
            **s3_env,
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


@pytest.fixture
def plane(apiserver: ApiServerHandle, s3_server: S3Handle, tmp_path: Path) -> Iterator[Plane]:
    with running_plane(apiserver, s3_server, tmp_path) as running:
        yield running


@dataclass
class ProxiedPlane:
    """A plane whose S3 traffic (operator, trainer, servers, drift checks) all goes through ``proxy``;
    the test's own uploads and reads go straight to moto (``plane.s3``), so they see S3 as it really is."""

    plane: Plane
    proxy: FaultProxy


@pytest.fixture
def plane_with_s3_proxy(
    apiserver: ApiServerHandle, s3_server: S3Handle, tmp_path: Path
) -> Iterator[ProxiedPlane]:
    proxy = FaultProxy(s3_server.endpoint).start()
    try:
        with running_plane(apiserver, s3_server, tmp_path, s3_endpoint=proxy.endpoint) as running:
            yield ProxiedPlane(running, proxy)
    finally:
        proxy.stop()
