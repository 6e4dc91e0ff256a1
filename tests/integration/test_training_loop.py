"""Training end to end on the embedded control plane: the real operator, the pod runner and the real trainer.

TrainingRun → Job → trainer → artifacts in S3 → ModelVersion verified and gated → champion; a worse run is
rejected and the champion stays; bad data fails the run with its reason and one Warning event; an operator
killed mid-run resumes without duplicate Jobs, Pods or versions.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.local.datasets import credit_csv
from tests.support.kube import condition, wait_for
from tests.support.plane import Plane
from tests.support.s3 import upload

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
API = "mloop.io/v1alpha1"
FAST_CANDIDATES = [{"algorithm": "logistic_regression", "params": {"max_iter": 500}}]


def project(bucket: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text()))
    body["metadata"] = {"name": "credit", "namespace": "default"}
    body["spec"]["storage"] = {"bucket": bucket}
    body["spec"]["data"]["source"]["uri"] = f"s3://{bucket}/datasets/credit.csv"
    body["spec"]["training"]["candidates"] = FAST_CANDIDATES
    return body


def run(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "TrainingRun",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"projectRef": {"name": "credit"}, **spec},
    }


def finished(plane: Plane, name: str) -> dict[str, Any] | None:
    obj = plane.kube.get(API, "TrainingRun", name)
    phase = obj.get("status", {}).get("phase")
    done = phase == "Failed" or (phase == "Succeeded" and obj["status"].get("modelVersion"))
    return obj if done else None


def version_settled(plane: Plane, name: str) -> dict[str, Any] | None:
    obj = plane.kube.get(API, "ModelVersion", name)
    stage = obj.get("status", {}).get("stage")
    return obj if stage in ("champion", "rejected") else None


def test_train_gate_promote_reject_and_fail_with_a_reason(plane: Plane) -> None:
    upload(plane.s3, plane.bucket, "datasets/credit.csv", credit_csv(1500, seed=7))
    plane.kube.create(project(plane.bucket))

    # 1. A first run trains, records credit-1, which passes the gate and becomes champion.
    plane.kube.create(run("credit-run-1"))
    first = wait_for(lambda: finished(plane, "credit-run-1"), timeout=180, interval=1, what="run 1 finished")
    assert first["status"]["phase"] == "Succeeded", first["status"]
    assert first["status"]["modelVersion"] == "credit-1"
    assert first["status"]["dataDigest"]
    stages = {c["type"]: c["status"] for c in first["status"]["conditions"]}
    trainer_stages = (
        "DataLoaded",
        "DataValidated",
        "LeakageAudited",
        "Split",
        "Trained",
        "Evaluated",
        "Exported",
    )
    assert all(stages[stage] == "True" for stage in trainer_stages), stages
    job = plane.kube.get("batch/v1", "Job", "credit-run-1-train")
    assert job["metadata"]["ownerReferences"][0]["name"] == "credit-run-1"

    v1 = wait_for(lambda: version_settled(plane, "credit-1"), timeout=60, what="credit-1 judged")
    assert v1["status"]["stage"] == "champion", v1["status"]
    assert condition(v1, "ArtifactVerified")["status"] == "True"  # type: ignore[index]
    assert condition(v1, "Validated")["status"] == "True"  # type: ignore[index]
    assert v1["spec"]["artifact"]["uri"].startswith(f"s3://{plane.bucket}/default/credit/runs/credit-run-1/")
    assert plane.kube.get(API, "MLProject", "credit")["status"]["champion"] == "credit-1"

    # 2. A challenger that is no better (the same data and config give the same model) is compared with
    # credit-1 re-scored on its own sealed test set: delta 0 < minImprovement, so it is rejected.
    plane.kube.create(run("credit-run-2"))
    wait_for(lambda: plane.kube.list("batch/v1", "Job"), what="a Job for run 2")
    # Kill the operator while the run trains; the restarted one must pick up where it was.
    plane.operator.kill()
    plane.operator.start()
    second = wait_for(lambda: finished(plane, "credit-run-2"), timeout=180, interval=1, what="run 2 finished")
    assert second["status"]["modelVersion"] == "credit-2"
    v2 = wait_for(lambda: version_settled(plane, "credit-2"), timeout=60, what="credit-2 judged")
    assert v2["status"]["stage"] == "rejected"
    assert condition(v2, "Validated")["reason"] == "WorseThanChampion"  # type: ignore[index]
    assert v2["spec"]["metrics"]["championName"] == "credit-1"
    assert v2["status"]["gate"]["champion"]["name"] == "credit-1"
    assert plane.kube.get(API, "MLProject", "credit")["status"]["champion"] == "credit-1"

    # 3. Bad data (no target column) fails the run with the trainer's reason and exactly one Warning.
    upload(plane.s3, plane.bucket, "datasets/no-target.csv", b"age,income\n30,1000\n40,2000\n" * 300)
    plane.kube.create(run("credit-run-3", data={"uri": f"s3://{plane.bucket}/datasets/no-target.csv"}))
    third = wait_for(lambda: finished(plane, "credit-run-3"), timeout=120, interval=1, what="run 3 finished")
    assert third["status"]["phase"] == "Failed"
    ready = condition(third, "Ready")
    assert ready is not None
    assert ready["reason"] == "TargetMissing", ready
    wait_for(lambda: plane.kube.events_for("credit-run-3"), what="an event for run 3")
    warnings = [e for e in plane.kube.events_for("credit-run-3") if e["type"] == "Warning"]
    assert [(e["reason"], e["count"]) for e in warnings] == [("TargetMissing", 1)]

    # No duplicates anywhere, even across the operator restart.
    jobs = sorted(j["metadata"]["name"] for j in plane.kube.list("batch/v1", "Job"))
    assert jobs == ["credit-run-1-train", "credit-run-2-train", "credit-run-3-train"]
    versions = sorted(v["metadata"]["name"] for v in plane.kube.list(API, "ModelVersion"))
    assert versions == ["credit-1", "credit-2"]
    pods_per_job: dict[str, int] = {}
    for pod in plane.kube.list("v1", "Pod"):
        job_name = pod["metadata"]["labels"].get("job-name", "")
        pods_per_job[job_name] = pods_per_job.get(job_name, 0) + 1
    assert pods_per_job["credit-run-1-train"] == 1
    assert pods_per_job["credit-run-2-train"] == 1
