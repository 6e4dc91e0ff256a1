"""The trainer as the Job runs it: a subprocess, data from S3 (a prefix of CSV parts), artifacts to S3,
settings from the environment and the termination message in a file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mloop.api.common import LocalObjectReference
from mloop.api.modelversion import ModelVersionSpec
from mloop.artifacts import ArtifactStore
from mloop.reconcile.results import (
    to_model_version_fields,
    to_provenance,
    to_training_results,
)
from tests.fixtures.s3 import S3Handle
from tests.trainer.support import binary_frame, project, write_project

REPO = Path(__file__).resolve().parents[2]


def test_s3_round_trip(tmp_path: Path, s3_server: S3Handle) -> None:
    bucket = s3_server.unique_bucket("trainer")
    store = ArtifactStore(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    frame = binary_frame(500)
    store.put_bytes(f"s3://{bucket}/data/part-0.csv", frame.iloc[:250].to_csv(index=False).encode())
    store.put_bytes(f"s3://{bucket}/data/part-1.csv", frame.iloc[250:].to_csv(index=False).encode())
    doc = project("binary-classification", "label", "roc_auc", slices=["region"])
    proj = write_project(tmp_path, doc)
    term = tmp_path / "termination-log"
    env = {
        **os.environ,
        "MLOOP_S3_ENDPOINT": s3_server.endpoint,
        "MLOOP_S3_ACCESS_KEY": s3_server.access_key,
        "MLOOP_S3_SECRET_KEY": s3_server.secret_key,
        "MLOOP_S3_SECURE": "false",
        "MLOOP_TERMINATION_LOG": str(term),
        "PYTHONPATH": f"{REPO / 'operator'}{os.pathsep}{REPO}",
    }
    output = f"s3://{bucket}/default/demo/runs/run-1/"
    proc = subprocess.run(
        [sys.executable, "-m", "mloop.trainer", "--project", str(proj), "--data", f"s3://{bucket}/data/",
         "--output", output],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[DataLoaded] s3://" in proc.stdout
    assert "rows=500" in proc.stdout
    summary_text = term.read_text()
    assert len(summary_text.encode()) <= 4096
    summary = json.loads(summary_text)
    assert summary["status"] == "succeeded"
    result = json.loads(store.get_bytes(output + "result.json"))
    assert summary["dataDigest"] == result["dataDigest"]
    assert result["data"]["parts"] == 2
    for name in ("model", "card", "report", "reference"):
        ref = result["artifacts"][name]
        assert ref["uri"].startswith(output)
        assert store.stat(ref["uri"]).sha256 == ref["sha256"] == summary["artifacts"][name]["sha256"]
    # the operator's mapping onto the API models validates
    fields = to_model_version_fields(result)
    ModelVersionSpec(
        project_ref=LocalObjectReference(name="demo"),
        training_run_ref=LocalObjectReference(name="run-1"),
        **fields,
    )
    results = to_training_results(result)
    assert results.summary_uri == output + "result.json"
    assert results.trials.total == len(result["trials"])
    assert to_provenance(result).rows == 500
    assert [s["name"] for s in result["stages"]][-1] == "Exported"
