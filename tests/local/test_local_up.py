"""``mloop local up|status|down`` end to end: real processes, real ports, checked by PID.

Until the pod runner exists (``mloop.local.podrunner``), the control plane is started with
``MLOOP_LOCAL_SKIP=podrunner``; once it exists the same tests run the whole tree.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.local.cpsupport import (
    KUBECTL,
    ControlPlane,
    adopting_orphans,
    cli_env,
    gone,
    kill_all,
    mloop,
    reap,
    recorded_pids,
    state,
)
from tests.local.netsupport import ready_ips, service_body
from tests.support.kube import Kube, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

EXPECTED = ["apiserver", "s3", "podrunner", "services", "operator"]


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One control plane shared by the read-only checks of this module (started once: it takes seconds)."""
    with adopting_orphans():
        plane = ControlPlane(tmp_path_factory.mktemp("home"))
        try:
            result = plane.up()
            assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{plane.logs()}"
            yield plane
        finally:
            plane.teardown()


def test_up_prints_what_runs_where(plane: ControlPlane) -> None:
    out = plane.up_output
    data = state(plane.home)
    assert data["phase"] == "Ready"
    assert [c["name"] for c in data["components"]] == EXPECTED
    for component in data["components"]:
        if component["skipped"]:
            continue
        assert str(component["pid"]) in out
        assert component["log"] == str(plane.home / "logs" / f"{component['name']}.log")
        assert component["log"] in out
    kubeconfig = plane.home / "kubeconfig"
    assert kubeconfig.is_file()
    assert f"export KUBECONFIG={kubeconfig}" in out
    assert f"http://127.0.0.1:{data['ports']['apiserver']}" in out
    assert "mloop-artifacts" in out


def test_second_up_says_so_and_succeeds(plane: ControlPlane) -> None:
    before = state(plane.home)["supervisor"]["pid"]
    result = plane.up()
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stdout
    assert state(plane.home)["supervisor"]["pid"] == before


def test_status_shows_everything_healthy(plane: ControlPlane) -> None:
    result = mloop("local", "status", "--home", str(plane.home))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:7]}
    assert set(rows) == set(EXPECTED)
    for cells in rows.values():
        assert {"ok", "running"} & set(cells), cells


@pytest.mark.skipif(not shutil.which(KUBECTL), reason=f"{KUBECTL} is not installed")
def test_kubectl_works_and_crds_are_established(plane: ControlPlane) -> None:
    env = {**os.environ, "KUBECONFIG": str(plane.home / "kubeconfig")}

    def kubectl(*args: str) -> str:
        result = subprocess.run(
            [KUBECTL, *args], capture_output=True, text=True, env=env, timeout=30, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    kubectl("get", "pods,jobs,deployments,services", "-A")
    names = kubectl("get", "crd", "-o", "name").split()
    assert sorted(names) == sorted(
        f"customresourcedefinition.apiextensions.k8s.io/{plural}.mloop.io"
        for plural in ("mlprojects", "trainingruns", "modelversions", "modeldeployments", "driftmonitors")
    )
    established = kubectl(
        "get",
        "crd",
        "-o",
        "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Established')].status} {end}",
    )
    assert established.split() == ["True"] * 5
    kubectl("get", "mlp,tr,mv,mdep,dm", "-A")


def test_killed_operator_is_restarted(plane: ControlPlane) -> None:
    def operator() -> dict[str, Any]:
        found: dict[str, Any] = next(c for c in state(plane.home)["components"] if c["name"] == "operator")
        return found

    old = operator()
    os.kill(old["pid"], signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        current = operator()
        return current if current["pid"] not in (None, old["pid"]) else None

    new = wait_for(
        restarted,
        timeout=20,
        what="operator restarted",
    )
    assert new["restarts"] == old["restarts"] + 1
    plane.seen.add(new["pid"])
    wait_for(
        lambda: mloop("local", "status", "--home", str(plane.home)).returncode == 0,
        timeout=30,
        what="healthy again",
    )
    log = (plane.home / "logs" / "supervisor.log").read_text()
    assert "operator: exited with code -9" in log


def test_down_leaves_no_process(tmp_path: Path) -> None:
    with adopting_orphans():
        plane = ControlPlane(tmp_path / "home")
        try:
            result = plane.up()
            assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{plane.logs()}"
            pids = recorded_pids(plane.home)
            assert len(pids) >= 4
            assert not any(gone(pid) for pid in pids)
            ports = state(plane.home)["ports"]

            result = mloop("local", "down", "--home", str(plane.home))

            assert result.returncode == 0, result.stdout + result.stderr
            assert "all" in result.stdout
            reap(pids)  # the supervisor was re-parented to us: collect it like its parent would
            for pid in pids:
                with pytest.raises(ProcessLookupError):
                    os.kill(pid, 0)
            after = state(plane.home)
            assert after["supervisor"] is None
            assert after["components"] == []
            assert after["ports"] == ports  # kept for the next ``up``
            status = mloop("local", "status", "--home", str(plane.home))
            assert status.returncode != 0
            assert "not running" in status.stdout
            again = mloop("local", "down", "--home", str(plane.home))
            assert again.returncode == 0
            assert "not running" in again.stdout
        finally:
            plane.teardown()


def test_foreground_sigint_tears_everything_down(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mloop.cli", "local", "up", "--foreground", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=cli_env(),
        text=True,
    )
    pids: set[int] = set()
    try:
        wait_for(
            lambda: (
                proc.poll() is not None
                or ((home / "state.json").exists() and state(home)["phase"] in ("Ready", "Failed"))
            ),
            timeout=60,
            what="foreground ready",
        )
        assert proc.poll() is None, proc.communicate()[0]
        assert state(home)["phase"] == "Ready"
        pids = recorded_pids(home)
        assert proc.pid in pids  # the CLI process is the supervisor
        assert len(pids) >= 4

        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)

        assert proc.returncode == 0, out
        assert "Ctrl-C stops everything" in out
        assert "mloop local stopped" in out
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert state(home)["supervisor"] is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        kill_all(pid for pid in pids if not gone(pid))


def test_stale_state_file_is_cleaned_up(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(10)
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.json").write_text(
        '{"ports": {"apiserver": 1, "s3": 2, "operator_health": 3}, "phase": "Ready",'
        f' "supervisor": {{"pid": {dead.pid}, "start": null}},'
        ' "components": [{"name": "operator", "address": "-", "log": "-", "health": {"kind": "alive"},'
        f' "pid": {dead.pid}, "start": null}}]}}'
    )
    started = time.monotonic()
    result = mloop("local", "status", "--home", str(home))
    assert result.returncode == 3
    assert "not running" in result.stdout
    assert "stale state file" in result.stdout
    assert time.monotonic() - started < 10
    cleaned = state(home)
    assert cleaned["supervisor"] is None
    assert cleaned["components"] == []
    assert cleaned["ports"] == {"apiserver": 1, "s3": 2, "operator_health": 3}


def test_deployment_behind_a_service_serves_traffic(plane: ControlPlane) -> None:
    """The whole tree: the pod runner runs the pods, the proxy spreads connections over them."""
    kube = Kube(f"http://127.0.0.1:{state(plane.home)['ports']['apiserver']}")
    container = {
        "name": "web",
        "image": "ghcr.io/mloop-io/mloop-server:0.1.0",
        "command": ["python", "-m", "http.server", "--bind", "$(POD_IP)", "8080"],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
    }
    kube.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
            },
        }
    )
    kube.create(service_body("web", {"app": "web"}, type_="NodePort"))
    wait_for(lambda: len(ready_ips(kube, "web")) == 2, timeout=30, what="2 ready endpoints")
    service = kube.get("v1", "Service", "web")
    address, node_port = service["spec"]["clusterIP"], service["spec"]["ports"][0]["nodePort"]
    status = wait_for(lambda: _get_status(address, 8080), timeout=10, what="served via ClusterIP")
    assert status == 200
    assert _get_status("127.0.0.1", node_port) == 200


def _get_status(host: str, port: int) -> int | None:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()
