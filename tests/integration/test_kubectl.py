"""The acceptance path of a user with kubectl: apply the CRDs and a project, then read them back."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.apiserver import ApiServerHandle

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")


def kubectl(apiserver: ApiServerHandle, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = {**os.environ, "KUBECONFIG": str(apiserver.kubeconfig), "HOME": str(apiserver.kubeconfig.parent)}
    result = subprocess.run(
        [KUBECTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_apply_crds_and_a_project_then_get_it(apiserver: ApiServerHandle) -> None:
    # As on a real cluster, a CR in the same apply as its CRD fails discovery; CRDs go first.
    out = kubectl(apiserver, "apply", "-f", "crds/")
    assert "mlprojects.mloop.io created" in out.stdout
    kubectl(
        apiserver, "wait", "--for", "condition=established", "crd", "-l", "app.kubernetes.io/part-of=mloop"
    )
    out = kubectl(apiserver, "apply", "-f", "examples/mlproject.yaml")
    assert "mlproject.mloop.io/credit created" in out.stdout

    table = kubectl(apiserver, "get", "mlp").stdout.splitlines()
    assert table[0].split() == ["NAME", "TASK", "TARGET", "CHAMPION", "READY", "AGE"]
    assert table[1].split()[:3] == ["credit", "binary-classification", "default"]

    wide = kubectl(apiserver, "get", "mlprojects", "-o", "wide").stdout.splitlines()[0].split()
    assert "METRIC" in wide

    # Re-applying the same file changes nothing (generation stays 1).
    again = kubectl(apiserver, "apply", "-f", "examples/mlproject.yaml").stdout
    assert "unchanged" in again or "configured" in again
    generation = kubectl(apiserver, "get", "mlp", "credit", "-o", "jsonpath={.metadata.generation}").stdout
    assert generation == "1"


def test_invalid_project_is_refused_by_kubectl_with_the_field(
    apiserver: ApiServerHandle, tmp_path: Path
) -> None:
    kubectl(apiserver, "apply", "-f", "crds/")
    bad = (
        (ROOT / "examples" / "mlproject.yaml")
        .read_text()
        .replace("task: binary-classification", "task: clustering")
    )
    (tmp_path / "bad.yaml").write_text(bad)
    result = kubectl(apiserver, "apply", "-f", str(tmp_path / "bad.yaml"), check=False)
    assert result.returncode != 0
    assert "spec.problem.task" in result.stderr
    assert "Unsupported value" in result.stderr


def test_annotate_and_delete(apiserver: ApiServerHandle) -> None:
    kubectl(apiserver, "apply", "-f", "crds/")
    kubectl(apiserver, "apply", "-f", "examples/mlproject.yaml")
    kubectl(apiserver, "annotate", "mlp", "credit", "mloop.io/note=hello")
    note = kubectl(
        apiserver, "get", "mlp", "credit", "-o", "jsonpath={.metadata.annotations.mloop\\.io/note}"
    ).stdout
    assert note == "hello"
    kubectl(apiserver, "delete", "mlp", "credit")
    assert "No resources found" in kubectl(apiserver, "get", "mlp").stderr
