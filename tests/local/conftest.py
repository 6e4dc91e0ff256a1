"""Fixtures for the embedded control plane tests: the Service proxy process and pod HTTP servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.apiserver import ApiServerHandle
from tests.local.netsupport import PodServer, ServicesProcess
from tests.support.kube import Kube


@pytest.fixture
def kube(apiserver: ApiServerHandle) -> Kube:
    return Kube(apiserver.url)


@pytest.fixture
def services(apiserver: ApiServerHandle, tmp_path: Path) -> Iterator[ServicesProcess]:
    proc = ServicesProcess(apiserver.kubeconfig, tmp_path / "services.log")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def pod_servers() -> Iterator[Callable[[str, str], PodServer]]:
    """Start HTTP servers standing in for pods' containers; all closed at teardown."""
    started: list[PodServer] = []

    def start(name: str, ip: str) -> PodServer:
        server = PodServer(name, ip)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.close()
