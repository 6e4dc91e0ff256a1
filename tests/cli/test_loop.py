"""The CLI on the real loop: ``mloop retrain --wait`` drives one real training run through the operator, the
pod runner and the trainer; ``mloop report`` then reads that version's model card and report from S3."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from minio import Minio

from mloop.local.datasets import credit_csv
from tests.cli.conftest import ROOT, run_subprocess
from tests.support.plane import Plane
from tests.support.s3 import upload

pytestmark = pytest.mark.integration
API = "mloop.io/v1alpha1"


def project(bucket: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text()))
    body["metadata"] = {"name": "credit", "namespace": "default"}
    body["spec"]["storage"] = {"bucket": bucket}
    body["spec"]["data"]["source"]["uri"] = f"s3://{bucket}/datasets/credit.csv"
    body["spec"]["training"]["candidates"] = [
        {"algorithm": "logistic_regression", "params": {"max_iter": 500}}
    ]
    return body


def test_retrain_wait_then_report(
    plane: Plane, tmp_path: Path, isolated_home: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(plane.s3, plane.bucket, "datasets/credit.csv", credit_csv(1500, seed=7))
    plane.kube.create(project(plane.bucket))
    env = {"KUBECONFIG": str(plane.apiserver.kubeconfig)}

    # 1. retrain --wait: phase changes, the trainer's stages, the version and its gate verdict.
    result = run_subprocess(
        "retrain", "credit", "--reason", "new data", "--wait", "--timeout", "240", env=env
    )
    assert result.code == 0, result.out + result.err
    lines = [line[10:] for line in result.out.splitlines()[1:]]  # without the HH:MM:SS stamp
    assert result.out.startswith("created TrainingRun credit-manual-")
    assert lines[-2] == "created ModelVersion credit-1; waiting for the gate"
    assert re.fullmatch(
        r"ModelVersion credit-1: roc_auc=0\.\d{4}, gate passed \(GatePassed: .*\), stage champion", lines[-1]
    )
    assert "Succeeded" in lines
    assert "  Exported" in lines
    assert lines.index("  DataLoaded") < lines.index("  Trained") < lines.index("Succeeded")
    (run,) = plane.kube.list(API, "TrainingRun")
    assert run["spec"] == {"projectRef": {"name": "credit"}, "trigger": "manual", "reason": "new data"}
    assert run["metadata"]["name"] == result.out.split()[2]

    # 2. report: the card on stdout, the HTML saved and identical to the object in S3.
    s3_env = {
        **env,
        "MLOOP_S3_ENDPOINT": plane.s3.endpoint,
        "MLOOP_S3_ACCESS_KEY": plane.s3.access_key,
        "MLOOP_S3_SECRET_KEY": plane.s3.secret_key,
    }
    out_dir = tmp_path / "reports"
    report = run_subprocess("report", "credit-1", "--output", str(out_dir), env=s3_env)
    assert report.code == 0, report.err
    assert report.out.startswith("# Model card")
    assert "roc_auc" in report.out
    saved = out_dir / "credit-1-report.html"
    assert report.err.strip() == f"evaluation report saved to {saved}"
    version = plane.kube.get(API, "ModelVersion", "credit-1")
    client = Minio(
        plane.s3.endpoint, access_key=plane.s3.access_key, secret_key=plane.s3.secret_key, secure=False
    )
    bucket, key = version["spec"]["reportUri"].removeprefix("s3://").split("/", 1)
    assert (
        hashlib.sha256(saved.read_bytes()).digest()
        == hashlib.sha256(client.get_object(bucket, key).read()).digest()
    )
    assert b"<html" in saved.read_bytes().lower()

    # 3. Without MLOOP_S3_*: a clear error, unless the embedded plane's state file describes this server.
    monkeypatch.setenv("KUBECONFIG", str(plane.apiserver.kubeconfig))
    monkeypatch.chdir(tmp_path)
    unconfigured = run_cli("report", "credit-1")
    assert unconfigured.code == 2
    assert unconfigured.err.startswith("mloop: S3 is not configured: set MLOOP_S3_ENDPOINT")
    port = int(plane.apiserver.url.rsplit(":", 1)[1])
    state = {
        "ports": {"apiserver": port, "s3": 1, "operator_health": 2},
        "extra": {"s3Endpoint": plane.s3.url},
    }
    (isolated_home / ".mloop" / "local").mkdir(parents=True)
    (isolated_home / ".mloop" / "local" / "state.json").write_text(json.dumps(state))
    as_json = run_cli("report", "credit-1", "-o", "json")
    assert as_json.code == 0, as_json.err
    body = json.loads(as_json.out)
    assert body["modelCard"].rstrip("\n") == report.out.rstrip("\n")
    assert body["reportPath"] == str(tmp_path / "credit-1-report.html")
    assert body["reportSha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()

    # 4. status sees the run and the champion.
    status = run_cli("status").out
    versions = status.split("MODEL VERSIONS\n", 1)[1].splitlines()
    assert versions[1].split()[:3] == ["credit-1", "credit", "champion"]
    assert versions[1].split()[4:6] == ["True", "(GatePassed)"]
    assert f"{run['metadata']['name']}  credit   Succeeded  manual   credit-1" in status
