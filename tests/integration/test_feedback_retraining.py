"""Retraining on served traffic, on the embedded control plane: a TrainingRun with ``spec.feedback`` trains on
the project's source rows plus the deployment's logged requests that got a label through ``/feedback``.

Everything is real: the operator builds the Job, the pod runner runs the trainer, the served model logs its
requests to S3 (moto) and the labels are posted to the Service as a user's labelling pipeline would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import urllib3

from mloop.artifacts import ArtifactStore
from mloop.local.datasets import credit_csv, credit_frame
from tests.support.examples import example
from tests.support.kube import wait_for
from tests.support.plane import Plane
from tests.support.s3 import upload

pytestmark = pytest.mark.integration
API = "mloop.io/v1alpha1"
SOURCE_ROWS, SERVED, LABELLED = 1500, 80, 50


def finished(plane: Plane, run: str, **spec: Any) -> dict[str, Any]:
    plane.kube.create(
        {
            "apiVersion": API,
            "kind": "TrainingRun",
            "metadata": {"name": run, "namespace": "default"},
            "spec": {"projectRef": {"name": "credit"}, **spec},
        }
    )

    def done() -> dict[str, Any] | None:
        body = plane.kube.get(API, "TrainingRun", run)
        status = body.get("status", {})
        assert status.get("phase") != "Failed", status
        return body if status.get("modelVersion") else None

    return wait_for(done, timeout=180, interval=1, what=f"{run} finished")


def post(http: urllib3.PoolManager, url: str, doc: Any) -> Any:
    response = http.request(
        "POST", url, body=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status in (200, 202), response.data[:300]
    return json.loads(response.data)


def log_lines(store: ArtifactStore, prefix: str) -> int:
    return sum(len(store.get_bytes(o.uri).splitlines()) for o in store.list(prefix))


def test_a_feedback_run_trains_on_source_rows_plus_labelled_traffic(plane: Plane) -> None:
    bucket = plane.bucket
    upload(plane.s3, bucket, "datasets/credit.csv", credit_csv(SOURCE_ROWS, seed=7))
    project = example("mlproject.yaml")
    project["spec"]["storage"] = {"bucket": bucket}
    project["spec"]["data"]["source"]["uri"] = f"s3://{bucket}/datasets/credit.csv"
    project["spec"]["training"]["candidates"] = [
        {"algorithm": "logistic_regression", "params": {"max_iter": 500}}
    ]
    project["spec"]["problem"]["kpis"] = [{"metric": "roc_auc", "min": 0.7}]
    project["spec"]["retraining"]["feedback"] = {"maxRows": 1000}
    plane.kube.create(project)
    first = finished(plane, "first")
    v1 = first["status"]["modelVersion"]
    assert first["status"]["data"]["rows"] == SOURCE_ROWS

    md = example("modeldeployment.yaml")
    md["spec"]["model"] = {"versionRef": {"name": v1}}
    md["spec"]["replicas"] = 1
    plane.kube.create(md)
    wait_for(
        lambda: (
            plane.kube.get(API, "ModelDeployment", "credit").get("status", {}).get("readyReplicas", 0) >= 1
        ),
        timeout=60,
        what="v1 ready",
    )
    service = plane.kube.request("GET", "/api/v1/namespaces/default/services/credit")
    base = f"http://{service['spec']['clusterIP']}:8080"
    features = [f["name"] for f in plane.kube.get(API, "ModelVersion", v1)["spec"]["signature"]["inputs"]]
    applicants = credit_frame(SERVED, seed=21)  # new applicants whose outcome becomes known later
    http = urllib3.PoolManager(retries=urllib3.Retry(total=3, backoff_factor=0.2), timeout=10.0)
    request_ids = []
    for record in applicants[features].to_dict("records"):
        instance = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
        request_ids.append(post(http, f"{base}/predict", {"instances": [instance]})["requestId"])
    outcomes = applicants["default"].tolist()
    labels = [{"requestId": request_ids[i], "label": int(outcomes[i])} for i in range(LABELLED)]
    mistake = [{"requestId": request_ids[0], "label": 1 - int(outcomes[0])}]
    post(http, f"{base}/feedback", mistake)
    post(http, f"{base}/feedback", labels)  # corrects it: the latest label wins, the row counts once

    store = ArtifactStore(plane.s3.endpoint, plane.s3.access_key, plane.s3.secret_key)
    prefix = f"s3://{bucket}/default/credit/"

    def flushed() -> bool:
        logged = log_lines(store, f"{prefix}traffic/credit/"), log_lines(store, f"{prefix}feedback/credit/")
        return logged == (SERVED, LABELLED + 1)

    wait_for(flushed, timeout=60, interval=1, what="the request and feedback logs flushed to S3")

    run = finished(plane, "with-feedback", feedback={"deploymentRef": {"name": "credit"}})
    data = run["status"]["data"]
    assert data["rows"] == SOURCE_ROWS + LABELLED, data
    assert (data["feedbackRows"], data["feedbackRejected"]) == (LABELLED, 0)
    assert run["status"]["dataDigest"] != data["sha256"]  # the feedback rows are part of the data digest
    job = plane.kube.get("batch/v1", "Job", "with-feedback-train")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"{prefix}traffic/credit/" in args
    result = json.loads(store.get_bytes(run["status"]["results"]["summaryUri"]))
    joined = result["data"]["feedback"]
    assert (joined["requests"], joined["labelled"], joined["unlabelled"]) == (
        SERVED,
        LABELLED,
        SERVED - LABELLED,
    )
    assert joined["rejected"] == {}
    assert result["profile"]["rows"] == SOURCE_ROWS + LABELLED
    assert sum(result["split"]["sizes"].values()) == SOURCE_ROWS + LABELLED
    version = plane.kube.get(API, "ModelVersion", run["status"]["modelVersion"])
    assert version["spec"]["lineage"]["dataDigest"] == run["status"]["dataDigest"]
