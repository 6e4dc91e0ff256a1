"""The training loop under API faults: watch streams cut every few events and a share of writes failing with
5xx/429 (with Retry-After). The end state equals a clean run's: one Job, one pod, one version, champion."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.local.datasets import credit_csv
from tests.support.kube import KubeError, wait_for
from tests.support.plane import Plane
from tests.support.s3 import upload

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
API = "mloop.io/v1alpha1"


def test_cut_watches_and_failing_writes_reach_the_clean_end_state(plane: Plane) -> None:
    upload(plane.s3, plane.bucket, "datasets/credit.csv", credit_csv(1500, seed=7))
    project: dict[str, Any] = copy.deepcopy(
        yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text())
    )
    project["metadata"] = {"name": "credit", "namespace": "default"}
    project["spec"]["storage"] = {"bucket": plane.bucket}
    project["spec"]["data"]["source"]["uri"] = f"s3://{plane.bucket}/datasets/credit.csv"
    project["spec"]["training"]["candidates"] = [
        {"algorithm": "logistic_regression", "params": {"max_iter": 500}}
    ]
    plane.kube.create(project)
    wait_for(lambda: plane.kube.get(API, "MLProject", "credit").get("status", {}).get("phase") == "Ready")
    plane.apiserver.faults.configure(
        seed=11,
        write_failure_rate=0.2,
        write_failure_codes=(500, 503, 429),
        retry_after_seconds=1,
        watch_cut_every=3,
        resources=("trainingruns", "modelversions", "mlprojects", "jobs"),
    )
    run = {
        "apiVersion": API,
        "kind": "TrainingRun",
        "metadata": {"name": "stormy", "namespace": "default"},
        "spec": {"projectRef": {"name": "credit"}},
    }
    wait_for(lambda: _created(plane, run), what="the run created despite faults")

    def settled() -> dict[str, Any] | None:
        status = plane.kube.get(API, "TrainingRun", "stormy").get("status", {})
        version = status.get("modelVersion")
        if status.get("phase") != "Succeeded" or not version:
            return None
        stage = plane.kube.get(API, "ModelVersion", version).get("status", {}).get("stage")
        return status if stage == "champion" else None

    status = wait_for(settled, timeout=240, interval=1, what="the run and its version settled")
    assert plane.apiserver.faults.injected > 0
    plane.apiserver.faults.reset()
    assert status["modelVersion"] == "credit-1"
    assert [j["metadata"]["name"] for j in plane.kube.list("batch/v1", "Job")] == ["stormy-train"]
    assert len(plane.kube.list("v1", "Pod")) == 1
    assert [v["metadata"]["name"] for v in plane.kube.list(API, "ModelVersion")] == ["credit-1"]
    assert plane.kube.get(API, "MLProject", "credit")["status"]["champion"] == "credit-1"


def _created(plane: Plane, body: dict[str, Any]) -> bool:
    try:
        plane.kube.create(body)
    except KubeError as exc:  # the test's own write may hit an injected fault: retry it
        return "AlreadyExists" in str(exc)
    return True
