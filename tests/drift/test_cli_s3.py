"""``python -m mloop.drift`` as a Job runs it: a subprocess against S3 (moto), traffic and feedback in the
server's layout, outputs and the termination message checked; failures exit 1 with a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mloop.artifacts import ArtifactStore
from tests.drift import support
from tests.fixtures.s3 import S3Handle

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
SIGNATURE = {
    "inputs": [{"name": n, "dtype": "float32", "kind": "numeric"} for n in support.NUMERIC]
    + [{"name": n, "dtype": "string", "kind": "categorical"} for n in support.CATEGORICAL],
    "outputs": [{"name": "label", "dtype": "string"}],
    "classes": ["0", "1"],
}


def _env(s3: S3Handle, termination: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MLOOP_S3_ENDPOINT": s3.endpoint,
        "MLOOP_S3_ACCESS_KEY": s3.access_key,
        "MLOOP_S3_SECRET_KEY": s3.secret_key,
        "MLOOP_TERMINATION_LOG": str(termination),
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mloop.drift", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(s3_server: S3Handle) -> dict[str, Any]:
    """A bucket with a reference, two hours of traffic (the second drifted) and feedback for most requests."""
    bucket = s3_server.unique_bucket("drift")
    store = ArtifactStore(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    base = f"s3://{bucket}/default/credit"
    rng = np.random.default_rng(9)
    store.put_bytes(f"{base}/versions/credit-1/reference.parquet", support.reference_parquet(rng, 3000))
    baseline = support.records(rng, 600, support.T0)
    window = support.records(
        rng, 600, support.T0 + HOUR, shift={"num_05": 1.0}, new_category=("cat_1", "omega", 0.1)
    )
    traffic = f"{base}/traffic/credit-serving/credit-1"
    for key, data in support.partitioned([*baseline, *window]).items():
        store.put_bytes(f"{traffic}/{key}", data)
    feedback = []
    for i, line in enumerate(window[:400]):  # labels arrive a little after the request
        p1 = line["probabilities"]["1"]
        label = int(rng.random() < p1) if i % 2 else line["prediction"]
        ts = support.iso(support.T0 + HOUR + timedelta(minutes=30 + i * 0.05))
        feedback.append({"ts": ts, "requestId": line["requestId"], "label": label})
    for key, data in support.partitioned(feedback).items():
        store.put_bytes(f"{base}/feedback/credit-serving/{key}", data)
    return {"store": store, "base": base, "traffic": traffic + "/"}


def test_s3_end_to_end_report_plot_performance_and_termination(
    s3_server: S3Handle, project: dict[str, Any], tmp_path: Path
) -> None:
    base, store = project["base"], project["store"]
    output = f"{base}/drift/monitor-1/20240501T0100"
    config = {
        "detector": {"backend": "native", "correction": "fdr", "pValue": 0.05},
        "window": {"minSamples": 100, "maxSamples": 10000},
        "predictionDrift": True,
        "performance": {"metric": "accuracy", "min": 0.7, "minLabels": 50},
    }
    args = [
        "--reference", f"{base}/versions/credit-1/reference.parquet",
        "--traffic", project["traffic"],
        "--window-start", support.iso(support.T0 + HOUR),
        "--window-end", support.iso(support.T0 + 2 * HOUR),
        "--baseline-start", support.iso(support.T0),
        "--baseline-end", support.iso(support.T0 + HOUR),
        "--config", json.dumps(config),
        "--feedback", f"{base}/feedback/credit-serving/",
        "--signature", json.dumps(SIGNATURE),
        "--output", output,
    ]  # fmt: skip
    termination = tmp_path / "termination-log"
    proc = _run(args, _env(s3_server, termination))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(store.get_bytes(f"{output}/report.json"))
    assert report["drifted"] is True
    assert report["insufficientData"] is False
    assert report["samples"] == {"reference": 3000, "window": 600}
    assert {"num_05", "cat_1"} <= set(report["driftedFeatures"])
    assert report["inputs"]["partitions"] == 1
    assert report["inputs"]["files"] == 1
    assert report["predictionDrift"]["samples"] == {"baseline": 600, "window": 600}
    performance = report["performance"]
    assert performance["metric"] == "accuracy"
    assert performance["labels"] == 400
    assert 0.7 < performance["value"] <= 1.0
    assert performance["passed"] is True
    assert report["plot"] == f"{output}/drift.png"
    assert store.get_bytes(report["plot"]).startswith(b"\x89PNG")
    text = termination.read_text()
    assert len(text.encode()) <= 4096
    summary = json.loads(text)
    assert summary["status"] == "succeeded"
    assert summary["drifted"] is True
    assert summary["reportUri"] == f"{output}/report.json"
    assert {f["name"] for f in summary["driftedFeatures"]} == set(report["driftedFeatures"])
    assert summary["performance"]["value"] == pytest.approx(performance["value"], rel=1e-5)
    # a retried Job recomputes the same bytes: write-once outputs accept their own earlier attempt
    again = _run(args, _env(s3_server, tmp_path / "again"))
    assert again.returncode == 0, again.stderr[-2000:]


def test_unreadable_reference_fails_with_a_reason(
    s3_server: S3Handle, project: dict[str, Any], tmp_path: Path
) -> None:
    termination = tmp_path / "termination-log"
    args = [
        "--reference", f"{project['base']}/versions/missing/reference.parquet",
        "--traffic", project["traffic"],
        "--window-start", support.iso(support.T0), "--window-end", support.iso(support.T0 + HOUR),
        "--output", f"{project['base']}/drift/failed",
    ]  # fmt: skip
    proc = _run(args, _env(s3_server, termination))
    assert proc.returncode == 1
    summary = json.loads(termination.read_text())
    assert summary["status"] == "failed"
    assert summary["reason"] == "DataNotFound"


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    termination = tmp_path / "termination-log"
    env = {**os.environ, "MLOOP_TERMINATION_LOG": str(termination)}
    args = ["--reference", "r.parquet", "--traffic", str(tmp_path), "--window-end", "2024-05-01T00:00:00Z",
            "--config", '{"detector": {"backend": "bogus"}}', "--output", str(tmp_path / "out")]  # fmt: skip
    proc = _run(args, env)
    assert proc.returncode == 2
    summary = json.loads(termination.read_text())
    assert summary["reason"] == "InvalidArguments"
    assert "backend" in summary["message"]
