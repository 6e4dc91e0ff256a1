"""``mloop retrain`` and ``mloop report`` on the emulator: the object written, every way ``--wait`` ends, and
the report's refusals (no S3, unreachable S3, a missing or wrong digest)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from minio import Minio

from tests.cli.conftest import API, Cluster, cond, example
from tests.fixtures.s3 import S3Handle

pytestmark = pytest.mark.integration


def test_retrain_creates_a_manual_run(cluster: Cluster, run_cli: Any) -> None:
    cluster.create(example("MLProject", "credit"))
    result = run_cli("retrain", "credit", "--reason", "quarterly refresh")
    assert result.code == 0, result.err
    (run,) = cluster.kube.list(API, "TrainingRun")
    name = run["metadata"]["name"]
    assert re.fullmatch(r"credit-manual-\d{8}-\d{6}", name)
    assert run["spec"] == {
        "projectRef": {"name": "credit"},
        "trigger": "manual",
        "reason": "quarterly refresh",
    }
    assert result.out.splitlines()[0] == f"created TrainingRun {name} (project credit, trigger manual)"
    time.sleep(1.01)  # a new second, a new name
    as_json = run_cli("retrain", "credit", "-o", "json")
    assert json.loads(as_json.out)["spec"] == {"projectRef": {"name": "credit"}, "trigger": "manual"}
    assert as_json.err.startswith("created TrainingRun credit-manual-")


def operator_later(cluster: Cluster, act: Callable[[str], None]) -> threading.Thread:
    """Play the operator: once the CLI has created its run, ``act(run_name)`` in the background."""

    def play() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            runs = cluster.kube.list(API, "TrainingRun")
            if runs:
                act(runs[0]["metadata"]["name"])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def set_status(cluster: Cluster, kind: str, name: str, status: dict[str, Any]) -> None:
    path = cluster.kube.path(API, kind, "default", name) + "/status"
    cluster.kube.request("PATCH", path, {"status": status}, "application/merge-patch+json")


def test_retrain_wait_reports_a_failed_run(cluster: Cluster, run_cli: Any) -> None:
    cluster.create(example("MLProject", "credit"))
    failed = {"phase": "Failed", "conditions": [cond("Ready", "False", "TargetMissing", "no column default")]}
    thread = operator_later(cluster, lambda name: set_status(cluster, "TrainingRun", name, failed))
    result = run_cli("retrain", "credit", "--wait", "--interval", "0.05", "--timeout", "10")
    thread.join()
    assert result.code == 1
    assert result.out.splitlines()[-1].endswith("failed: TargetMissing: no column default")


def test_retrain_wait_reports_a_rejected_version(cluster: Cluster, run_cli: Any) -> None:
    cluster.create(example("MLProject", "credit"))

    def finish(name: str) -> None:
        set_status(cluster, "TrainingRun", name, {"phase": "Succeeded", "modelVersion": "credit-2"})
        time.sleep(0.2)
        cluster.create(
            example("ModelVersion", "credit-2"),
            {
                "stage": "rejected",
                "primaryMetric": "roc_auc",
                "primaryMetricValue": 0.7,
                "conditions": [cond("Validated", "False", "BelowKPI", "KPI not met: recall")],
            },
        )

    thread = operator_later(cluster, finish)
    result = run_cli("retrain", "credit", "--wait", "--interval", "0.05", "--timeout", "10", "-o", "json")
    thread.join()
    assert result.code == 1
    assert "ModelVersion credit-2: roc_auc=0.7000, gate failed (BelowKPI: KPI not met: recall)" in result.err
    body = json.loads(result.out)
    assert body["modelVersion"]["metadata"]["name"] == "credit-2"
    assert body["timedOut"] is False


def test_retrain_wait_times_out(cluster: Cluster, run_cli: Any) -> None:
    cluster.create(example("MLProject", "credit"))
    result = run_cli("retrain", "credit", "--wait", "--interval", "0.05", "--timeout", "0.3")
    assert result.code == 4
    assert re.fullmatch(r"mloop: timed out after 0s; credit-manual-\S+ is Pending\n", result.err)


def put(s3: S3Handle, bucket: str, key: str, data: bytes, sha: str | None) -> str:
    client = Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
    metadata: Any = {"sha256": sha} if sha else None
    client.put_object(bucket, key, io.BytesIO(data), len(data), metadata=metadata)
    return f"s3://{bucket}/{key}"


@pytest.fixture
def s3_env(s3_server: S3Handle, monkeypatch: pytest.MonkeyPatch) -> S3Handle:
    monkeypatch.setenv("MLOOP_S3_ENDPOINT", s3_server.endpoint)
    monkeypatch.setenv("MLOOP_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("MLOOP_S3_SECRET_KEY", s3_server.secret_key)
    return s3_server


def test_report_refuses_files_that_do_not_match_their_digest(
    cluster: Cluster, s3_env: S3Handle, run_cli: Any, tmp_path: Any
) -> None:
    bucket = s3_env.unique_bucket("cli")
    card = b"# card\n"
    good = put(s3_env, bucket, "v/card.md", card, hashlib.sha256(card).hexdigest())
    wrong = put(s3_env, bucket, "v/report.html", b"<html>swapped</html>", hashlib.sha256(b"orig").hexdigest())
    bare = put(s3_env, bucket, "v/bare.md", b"# no digest\n", None)
    cluster.create(example("ModelVersion", "credit-1", modelCardUri=good, reportUri=wrong))
    cluster.create(example("ModelVersion", "credit-2", modelCardUri=bare, reportUri=None))
    cluster.create(example("ModelVersion", "credit-3", modelCardUri=None, reportUri=None))

    swapped = run_cli("report", "credit-1", "--output", str(tmp_path))
    assert swapped.code == 1
    assert f"{wrong}: content SHA-256" in swapped.err
    assert "differs from the stored digest" in swapped.err
    assert not (tmp_path / "credit-1-report.html").exists()
    unverified = run_cli("report", "credit-2")
    assert (unverified.code, unverified.err.strip()) == (
        1,
        f"mloop: {bare} carries no SHA-256; refusing to trust it",
    )
    nothing = run_cli("report", "credit-3")
    assert nothing.code == 1
    assert "names no model card and no report" in nothing.err
    assert run_cli("report", "credit-1", "--output", "json").code == 2


def test_report_with_unreachable_s3(cluster: Cluster, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MLOOP_S3_ENDPOINT", f"127.0.0.1:{port}")
    cluster.create(example("ModelVersion", "credit-1"))
    result = run_cli("report", "credit-1")
    assert result.code == 2
    assert result.err.startswith(f"mloop: S3 at 127.0.0.1:{port}: ")
