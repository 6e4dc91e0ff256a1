"""A canary whose predictions move away from the stable's is rolled back, on the embedded control plane.

Two real versions: credit-1 learned the usual rules, credit-2 learned flipped ones (concept drift) and so
predicts differently for the same applicants. Traffic goes through the Service; the operator reads both
tracks' ``/metrics`` and after ``failureLimit`` failed analyses rolls the canary back; credit-1 keeps serving.
"""

from __future__ import annotations

from typing import Any

import pytest

from mloop.demo.traffic import TrafficGenerator
from mloop.local.datasets import credit_csv
from tests.support.examples import example
from tests.support.kube import condition, wait_for
from tests.support.plane import Plane
from tests.support.s3 import upload

pytestmark = pytest.mark.integration
API = "mloop.io/v1alpha1"


def trained(plane: Plane, run: str, **spec: Any) -> str:
    plane.kube.create(
        {
            "apiVersion": API,
            "kind": "TrainingRun",
            "metadata": {"name": run, "namespace": "default"},
            "spec": {"projectRef": {"name": "credit"}, **spec},
        }
    )

    def done() -> str | None:
        status = plane.kube.get(API, "TrainingRun", run).get("status", {})
        assert status.get("phase") != "Failed", status
        return status.get("modelVersion")

    version = wait_for(done, timeout=180, interval=1, what=f"{run} finished")
    judged = wait_for(
        lambda: (
            (v := plane.kube.get(API, "ModelVersion", version)).get("status", {}).get("stage")
            in ("champion", "rejected")
            and v
        ),
        timeout=60,
        what=f"{version} judged",
    )
    assert judged["status"]["stage"] == "champion", condition(judged, "Validated")
    return version


def deployment(plane: Plane) -> dict[str, Any]:
    return plane.kube.get(API, "ModelDeployment", "credit")


def test_prediction_shift_rolls_the_canary_back(plane: Plane) -> None:
    bucket = plane.bucket
    upload(plane.s3, bucket, "datasets/usual.csv", credit_csv(1500, seed=7))
    upload(plane.s3, bucket, "datasets/flipped.csv", credit_csv(1500, seed=8, concept=1.0))
    project = example("mlproject.yaml")
    project["spec"]["storage"] = {"bucket": bucket}
    project["spec"]["data"]["source"]["uri"] = f"s3://{bucket}/datasets/usual.csv"
    project["spec"]["training"]["candidates"] = [
        {"algorithm": "logistic_regression", "params": {"max_iter": 500}}
    ]
    project["spec"]["problem"]["kpis"] = [{"metric": "roc_auc", "min": 0.7}]
    plane.kube.create(project)
    v1 = trained(plane, "usual")

    md = example("modeldeployment.yaml")
    md["spec"]["model"] = {"versionRef": {"name": v1}}
    md["spec"]["replicas"] = 2
    md["spec"]["canary"] = {
        "steps": [{"weight": 50, "pause": "5m"}],
        "analysis": {"interval": "2s", "minRequests": 20, "maxPredictionShift": 0.15, "failureLimit": 1},
    }
    plane.kube.create(md)
    wait_for(
        lambda: deployment(plane).get("status", {}).get("readyReplicas", 0) >= 2, timeout=60, what="v1 ready"
    )
    service = plane.kube.request("GET", "/api/v1/namespaces/default/services/credit")
    features = [f["name"] for f in plane.kube.get(API, "ModelVersion", v1)["spec"]["signature"]["inputs"]]
    traffic = TrafficGenerator(
        f"http://{service['spec']['clusterIP']}:8080/predict", features, rate_per_second=40
    )
    traffic.start()
    try:
        # The flipped model wins its own gate (the champion is worse on flipped data) and is then canaried.
        v2 = trained(plane, "flipped", data={"uri": f"s3://{bucket}/datasets/flipped.csv"})
        plane.kube.request(
            "PATCH",
            f"/apis/{API}/namespaces/default/modeldeployments/credit",
            {"spec": {"model": {"versionRef": {"name": v2}}}},
            content_type="application/merge-patch+json",
        )
        wait_for(
            lambda: deployment(plane).get("status", {}).get("canaryVersion") == v2, timeout=30, what="canary"
        )

        def rolled_back() -> dict[str, Any] | None:
            status = deployment(plane).get("status", {})
            return status if status.get("history") and not status.get("canaryVersion") else None

        status = wait_for(rolled_back, timeout=120, interval=1, what="the rollback")
    finally:
        traffic.stop()
    entry = status["history"][-1]
    assert (entry["action"], entry["fromVersion"], entry["toVersion"]) == ("rolledBack", v2, v1), entry
    assert "PredictionShift" in entry["reason"]
    assert status["stableVersion"] == v1
    assert status["blockedVersion"] == v2
    assert status["analysis"]["predictionShift"] > 0.15
    body = deployment(plane)
    assert condition(body, "Degraded")["status"] == "True"  # type: ignore[index]
    assert condition(body, "Ready")["status"] == "True"  # type: ignore[index]
    assert traffic.failed == 0
    names = {d["metadata"]["name"] for d in plane.kube.list("apps/v1", "Deployment")}
    assert names == {f"credit-{v1}"}, names  # the canary's Deployment is gone, the stable one stays
