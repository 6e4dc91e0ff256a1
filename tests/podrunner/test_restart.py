"""The runner as a separate process: SIGKILL and restart recovers without duplicates; SIGTERM
leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.apiserver import ApiServerHandle

from .helpers import Kube, alive, container, deployment, eventually, job, pids_of, server_container


def processes_with(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


class RunnerProcess:
    """``python -m mloop.local.podrunner`` as a child process."""

    def __init__(self, apiserver: ApiServerHandle, home: Path) -> None:
        self.args = [
            sys.executable,
            "-m",
            "mloop.local.podrunner",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "--home",
            str(home),
            "--restart-backoff-base",
            "0.2",
            "--log-interval",
            "0.3",
        ]
        self.log = home.parent / "runner.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(self.args, stdout=sink, stderr=sink)

    def signal(self, sig: int) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(30)


@pytest.fixture
def runner_process(apiserver: ApiServerHandle, tmp_path: Path) -> Iterator[RunnerProcess]:
    handle = RunnerProcess(apiserver, tmp_path / "home")
    yield handle
    if handle.process is not None and handle.process.poll() is None:
        handle.signal(signal.SIGTERM)
    subprocess.run([*handle.args[:3], "--home", handle.args[6], "--kill-leftovers"], check=False)


def running(kube: Kube, selector: str, count: int) -> Any:
    pods = kube.list("pods", selector)
    ok = len(pods) == count and all(
        p["status"].get("phase") == "Running" and "running" in p["status"]["containerStatuses"][0]["state"]
        for p in pods
    )
    return pods if ok else None


def test_sigkill_and_restart_recovers_without_duplicates(kube: Kube, runner_process: RunnerProcess) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    sleeper = container("import time; time.sleep(600)", marker)
    kube.create("jobs", job("long", [sleeper], restartPolicy="OnFailure"))
    web = server_container()
    web["command"] = [*web["command"], "--tag", marker]
    kube.create("deployments", deployment("svc", 2, [web]))
    runner_process.start()
    job_pods = eventually(lambda: running(kube, "job-name=long", 1), timeout=20)
    web_pods = eventually(lambda: running(kube, "app=svc", 2), timeout=20)
    assert len(processes_with(marker)) == 3
    before = {p["metadata"]["name"]: pids_of(p)[0] for p in job_pods + web_pods}

    assert runner_process.signal(signal.SIGKILL) == -signal.SIGKILL
    assert all(alive(pid) for pid in before.values())  # orphans, until the next runner cleans up
    runner_process.start()

    def recovered() -> Any:
        pods = (running(kube, "job-name=long", 1) or []) + (running(kube, "app=svc", 2) or [])
        counts = [p["status"]["containerStatuses"][0]["restartCount"] for p in pods]
        return pods if len(pods) == 3 and counts == [1, 1, 1] else None

    pods = eventually(recovered, timeout=20)
    assert {p["metadata"]["name"] for p in pods} == set(before)  # no new pods
    assert not any(alive(pid) for pid in before.values())
    after = [pid for p in pods for pid in pids_of(p)]
    assert len(after) == 3
    assert all(alive(pid) for pid in after)
    assert sorted(processes_with(marker)) == sorted(after)  # exactly one process per container
    for pod in pods:
        last = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
        assert last["reason"] == "ContainerStatusUnknown"
    assert len(kube.list("replicasets", "app=svc")) == 1

    assert runner_process.signal(signal.SIGTERM) == 0
    assert not any(alive(pid) for pid in after)
    assert processes_with(marker) == []
    assert not list((Path(runner_process.args[6]) / "pods").glob("*/*/*.pid"))
    assert os.path.exists(runner_process.log)
