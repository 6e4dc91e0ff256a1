"""Connection and lookup errors: each is one sentence that says what to do, with a documented exit code."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import Cluster, cond, example, run_subprocess
from tests.fixtures.apiserver import ApiServerHandle

pytestmark = pytest.mark.integration


def kubeconfig(path: Path, server: str, context: str = "test", namespace: str | None = None) -> Path:
    ctx: dict[str, Any] = {"cluster": context, "user": context}
    if namespace:
        ctx["namespace"] = namespace
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": context, "cluster": {"server": server}}],
                "users": [{"name": context, "user": {"token": "t"}}],
                "contexts": [{"name": context, "context": ctx}],
                "current-context": context,
            }
        )
    )
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_kubeconfig_says_to_start_the_local_plane() -> None:
    result = run_subprocess("status")
    assert result.code == 2
    assert result.err.strip() == (
        "mloop: no kubeconfig found (KUBECONFIG unset, no ~/.kube/config): start the embedded control plane "
        "with `mloop local up`, or set KUBECONFIG (or --kubeconfig)"
    )
    missing = run_subprocess("status", "--kubeconfig", "/nonexistent/config")
    assert missing.code == 2
    assert "kubeconfig /nonexistent/config does not exist: start the embedded" in missing.err


def test_unreachable_server_names_its_url(tmp_path: Path) -> None:
    server = f"http://127.0.0.1:{closed_port()}"
    config = kubeconfig(tmp_path / "config", server)
    result = run_subprocess("status", "--kubeconfig", str(config))
    assert result.code == 2
    assert result.err.startswith(f"mloop: cannot reach the Kubernetes API at {server} (context 'test'): ")
    assert "`mloop local up`" in result.err
    assert "Traceback" not in result.err


def test_missing_crds(apiserver: ApiServerHandle, run_cli: Any) -> None:
    result = run_cli("status", "--kubeconfig", str(apiserver.kubeconfig))
    assert result.code == 2
    assert result.err.strip() == "mloop: mloop CRDs are not installed in this cluster: kubectl apply -f crds/"
    approve = run_cli("approve", "credit-1", "--kubeconfig", str(apiserver.kubeconfig))
    assert (approve.code, approve.err) == (result.code, result.err)


def test_missing_object_lists_the_names_that_exist(cluster: Cluster, run_cli: Any) -> None:
    result = run_cli("approve", "credit-9")
    assert result.code == 1
    assert result.err.strip() == (
        "mloop: ModelVersion credit-9 not found in namespace default; there are no ModelVersions there"
    )
    for name in ("credit-1", "credit-2"):
        cluster.create(
            example("ModelVersion", name), {"conditions": [cond("Validated", "True", "GatePassed")]}
        )
    result = run_cli("approve", "credit-9")
    assert result.err.strip() == (
        "mloop: ModelVersion credit-9 not found in namespace default; existing: credit-1, credit-2"
    )
    other = run_cli("promote", "web", "-n", "prod")
    assert other.code == 1
    assert "ModelDeployment web not found in namespace prod" in other.err
    assert "not found" in run_cli("retrain", "churn").err


def test_context_selection(
    cluster: Cluster, tmp_path: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.create(example("MLProject", "credit"))
    unknown = run_cli("status", "--context", "prod")
    assert unknown.code == 2
    assert unknown.err.strip() == (
        f"mloop: context 'prod' not found in kubeconfig {cluster.kubeconfig} (available: mloop-local): "
        "pass --context NAME, or start the embedded control plane with `mloop local up`, or set KUBECONFIG "
        "(or --kubeconfig)"
    )
    # Two files in KUBECONFIG, as kubectl merges them: the context from the second one is usable.
    other = kubeconfig(tmp_path / "other", cluster.handle.url, context="team", namespace="team-b")
    merged = f"{cluster.kubeconfig}:{other}"
    result = run_cli("status", "--kubeconfig", str(other), "-v")
    assert "namespace team-b" in result.err
    assert "no mloop objects in namespace team-b" in result.out
    monkeypatch.setenv("KUBECONFIG", merged)
    verbose = run_cli("status", "--context", "team", "-n", "default", "-v")
    assert verbose.code == 0
    assert verbose.err.strip() == (
        f"using kubeconfig {cluster.kubeconfig} (from $KUBECONFIG), context team, "
        f"server {cluster.handle.url}, namespace default"
    )
    assert "credit" in verbose.out


def test_falls_back_to_the_embedded_control_plane_kubeconfig(
    cluster: Cluster, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBECONFIG")
    local = isolated_home / ".mloop" / "local" / "kubeconfig"
    local.parent.mkdir(parents=True)
    local.write_text(cluster.kubeconfig.read_text())
    result = run_subprocess("status", "-v")
    assert result.code == 0, result.err
    assert f"using kubeconfig {local} (from mloop local)" in result.err
    # ~/.kube/config wins over the embedded control plane, as for kubectl.
    kubeconfig(isolated_home / ".kube" / "config", f"http://127.0.0.1:{closed_port()}")
    assert run_subprocess("status").code == 2
