"""``kubectl apply -f crds/ -f deploy/`` installs mloop without Helm (here against the API emulator)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.apiserver import ApiServerHandle

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine"),
]


def kubectl(apiserver: ApiServerHandle, *args: str) -> str:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, *args],
        env={**os.environ, "KUBECONFIG": str(apiserver.kubeconfig), "HOME": str(apiserver.kubeconfig.parent)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_apply_crds_then_deploy(apiserver: ApiServerHandle) -> None:
    kubectl(apiserver, "apply", "-f", "crds/")
    kubectl(apiserver, "wait", "--for=condition=Established", "crd", "--all", "--timeout=30s")
    out = kubectl(apiserver, "apply", "-f", "deploy/")
    assert "deployment.apps/mloop created" in out
    assert "networkpolicy.networking.k8s.io/mloop-trainer created" in out
    assert "clusterrole.rbac.authorization.k8s.io/mloop created" in out
    names = kubectl(apiserver, "-n", "mloop-system", "get", "deployment", "-o", "name").split()
    assert names == ["deployment.apps/mloop"]
