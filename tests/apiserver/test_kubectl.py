"""kubectl v1.32 against the emulator: apply (client-side), printer columns, annotate, label,
describe, explain, delete, and the 422 message users see."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.apiserver.helpers import DATA
from tests.fixtures.apiserver import ApiServerHandle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("kubectl") is None, reason="kubectl is not installed (expected /usr/bin/kubectl)"
    ),
]


def kubectl(handle: ApiServerHandle, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(handle.kubeconfig), "HOME": str(handle.kubeconfig.parent)}
    result = subprocess.run(
        ["kubectl", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def test_apply_crd_then_resource_and_get_columns(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    assert "created" in kubectl(apiserver, "apply", "-f", str(DATA / "widgets-crd.yaml")).stdout
    assert (
        "widget.example.mloop.io/w1 created"
        in kubectl(apiserver, "apply", "-f", str(DATA / "widget.yaml")).stdout
    )
    table = kubectl(apiserver, "get", "widgets").stdout.splitlines()
    assert table[0].split() == ["NAME", "TASK", "SIZE", "READY", "AGE"]
    assert table[1].split()[:3] == ["w1", "regression", "1"]
    assert "w1" in kubectl(apiserver, "get", "wd").stdout  # short name
    assert "w1" in kubectl(apiserver, "get", "mloop").stdout  # category

    changed = tmp_path / "w1.yaml"
    changed.write_text((DATA / "widget.yaml").read_text().replace("regression", "binary-classification"))
    assert "configured" in kubectl(apiserver, "apply", "-f", str(changed)).stdout
    assert "unchanged" in kubectl(apiserver, "apply", "-f", str(changed)).stdout
    as_yaml = kubectl(apiserver, "get", "widget", "w1", "-o", "yaml").stdout
    assert "task: binary-classification" in as_yaml
    assert "generation: 2" in as_yaml

    kubectl(apiserver, "annotate", "widget", "w1", "mloop.io/approved-by=alice")
    kubectl(apiserver, "label", "widget", "w1", "team=ml")
    assert "w1" in kubectl(apiserver, "get", "widgets", "-l", "team=ml").stdout
    described = kubectl(apiserver, "describe", "widget", "w1").stdout
    assert "mloop.io/approved-by: alice" in described
    assert "team=ml" in described
    explained = kubectl(apiserver, "explain", "widgets.spec.problem.task").stdout
    assert "The learning task." in explained
    assert "regression" in explained

    assert 'widget.example.mloop.io "w1" deleted' in kubectl(apiserver, "delete", "widget", "w1").stdout
    assert "No resources found" in kubectl(apiserver, "get", "widgets").stderr


def test_invalid_resource_shows_field_path(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    kubectl(apiserver, "apply", "-f", str(DATA / "widgets-crd.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text((DATA / "widget.yaml").read_text().replace("regression", "clustering"))
    result = kubectl(apiserver, "apply", "-f", str(bad), check=False)
    assert result.returncode != 0
    assert 'spec.problem.task: Unsupported value: "clustering"' in result.stderr


def test_builtins(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    kubectl(apiserver, "create", "configmap", "settings", "--from-literal=a=b")
    kubectl(apiserver, "create", "secret", "generic", "creds", "--from-literal=key=value")
    kubectl(apiserver, "create", "namespace", "team-a")
    configmaps = kubectl(apiserver, "get", "configmaps").stdout
    assert "settings" in configmaps
    assert "DATA" in configmaps
    namespaces = kubectl(apiserver, "get", "ns").stdout
    assert all(name in namespaces for name in ("default", "kube-system", "team-a"))
    deployment = tmp_path / "deploy.yaml"
    deployment.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: c, image: nginx}]}\n"
    )
    kubectl(apiserver, "apply", "-f", str(deployment))
    kubectl(apiserver, "apply", "-f", str(deployment))
    kubectl(apiserver, "scale", "deployment", "web", "--replicas=3")
    assert kubectl(apiserver, "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    assert "web" in kubectl(apiserver, "get", "all").stdout
    kubectl(apiserver, "delete", "configmap", "settings")
    assert "settings" not in kubectl(apiserver, "get", "cm").stdout


def test_unknown_field_is_rejected_by_strict_validation(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    kubectl(apiserver, "apply", "-f", str(DATA / "widgets-crd.yaml"))
    typo = tmp_path / "typo.yaml"
    typo.write_text((DATA / "widget.yaml").read_text().replace("  problem:", "  sise: 3\n  problem:"))
    result = kubectl(apiserver, "apply", "-f", str(typo), check=False)
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "spec.sise"' in result.stderr
    assert "created" in kubectl(apiserver, "apply", "--validate=false", "-f", str(typo)).stdout
    spec = kubectl(apiserver, "get", "widget", "w1", "-o", "jsonpath={.spec}").stdout
    assert "sise" not in spec  # pruned
