"""A retrained model that is worse is rejected and the champion keeps serving, on the embedded control plane.

The story is covariate shift without concept drift: new applicants are older and richer (the traffic and a
new labelled partition both move), but defaults follow the same rules. The DriftMonitor rightly alerts on
the shifted inputs and retrains on the data as it is now; on this seeded data the retrained logistic
regression scores roc_auc 0.799 on its sealed test rows, where the champion, re-scored on those very rows,
scores 0.812. So the gate says ``WorseThanChampion`` (the example's ``minImprovement`` 0.005 adds margin),
no canary starts, the champion keeps answering, and the monitor's ``Retrained`` condition says why.
Deterministic: fixed data seeds, the project's split seed, one fixed-parameter candidate.
"""

from __future__ import annotations

from typing import Any

import pytest

from mloop.demo.traffic import TrafficGenerator
from mloop.local.datasets import credit_csv
from tests.support.examples import example, small_project
from tests.support.kube import condition, wait_for
from tests.support.plane import Plane
from tests.support.s3 import upload

pytestmark = pytest.mark.integration
API = "mloop.io/v1alpha1"


def get(plane: Plane, kind: str, name: str) -> dict[str, Any]:
    return plane.kube.get(API, kind, name)


def judged(plane: Plane, version: str) -> dict[str, Any]:
    def stage() -> dict[str, Any] | None:
        body = get(plane, "ModelVersion", version)
        return body if body.get("status", {}).get("stage") in ("champion", "rejected") else None

    return wait_for(stage, timeout=60, what=f"{version} judged")


def finished(plane: Plane, run: str) -> str:
    def version() -> str | None:
        status = get(plane, "TrainingRun", run).get("status", {})
        assert status.get("phase") != "Failed", status
        name = status.get("modelVersion")
        return str(name) if name else None

    return wait_for(version, timeout=180, interval=1, what=f"{run} finished")


def drift_runs(plane: Plane) -> list[dict[str, Any]]:
    return [r for r in plane.kube.list(API, "TrainingRun") if r["spec"].get("trigger") == "drift"]


def test_a_worse_retrained_model_is_rejected_and_the_champion_keeps_serving(plane: Plane) -> None:
    bucket = plane.bucket
    small_project(plane, "datasets/credit/part-0001.csv", uri="datasets/credit/", min_roc_auc=0.7)
    plane.kube.create(
        {
            "apiVersion": API,
            "kind": "TrainingRun",
            "metadata": {"name": "first", "namespace": "default"},
            "spec": {"projectRef": {"name": "credit"}},
        }
    )
    champion = finished(plane, "first")
    assert judged(plane, champion)["status"]["stage"] == "champion"

    md = example("modeldeployment.yaml")
    md["spec"]["replicas"] = 1
    plane.kube.create(md)
    wait_for(
        lambda: (
            (s := get(plane, "ModelDeployment", "credit").get("status", {})).get("stableVersion") == champion
            and s.get("readyReplicas", 0) >= 1
        ),
        timeout=60,
        what=f"{champion} serving",
    )
    ip = plane.kube.request("GET", "/api/v1/namespaces/default/services/credit")["spec"]["clusterIP"]
    url = f"http://{ip}:8080/predict"
    features = [f["name"] for f in get(plane, "ModelVersion", champion)["spec"]["signature"]["inputs"]]
    traffic = TrafficGenerator(url, features, rate_per_second=40)

    # The population moves; the rules do not: the new labelled partition is shifted, not flipped.
    upload(plane.s3, bucket, "datasets/credit/part-0002.csv", credit_csv(1500, seed=8, shift=1.0))
    traffic.drift()
    traffic.start()
    try:
        monitor = example("driftmonitor.yaml")
        monitor["spec"]["schedule"] = {"interval": "10s"}
        monitor["spec"]["window"] = {"duration": "10s", "minSamples": 100}
        monitor["spec"].pop("performance", None)
        plane.kube.create(monitor)

        run = wait_for(
            lambda: get(plane, "DriftMonitor", "credit").get("status", {}).get("lastRetrainRun"),
            timeout=150,
            interval=1,
            what="a drift alert and its TrainingRun",
        )
        retrained = judged(plane, finished(plane, run))
        version = retrained["metadata"]["name"]

        def says_why() -> dict[str, Any] | None:
            found = condition(get(plane, "DriftMonitor", "credit"), "Retrained")
            return found if found and found["status"] == "False" else None

        retrained_condition = wait_for(says_why, timeout=60, interval=1, what="the monitor's verdict")
        check_before = get(plane, "DriftMonitor", "credit")["status"]["lastCheckJob"]
        wait_for(  # one more window after the verdict: still no second run
            lambda: get(plane, "DriftMonitor", "credit")["status"]["lastCheckJob"] != check_before,
            timeout=60,
            interval=1,
            what="another drift window checked",
        )
        answer = traffic.predict_one()  # through the Service; raises unless it answers 200
    finally:
        traffic.stop()

    runs = drift_runs(plane)
    assert [r["metadata"]["name"] for r in runs] == [run]
    assert runs[0]["spec"]["reason"].startswith("credit: drift in ")

    status = retrained["status"]
    validated = condition(retrained, "Validated")
    assert status["stage"] == "rejected"
    assert validated is not None
    assert (validated["status"], validated["reason"]) == ("False", "WorseThanChampion"), validated
    gate = status["gate"]
    assert gate["champion"]["name"] == champion
    assert gate["champion"]["passed"] is False
    assert gate["champion"]["delta"] < 0, gate["champion"]  # worse than the champion on the same rows

    assert get(plane, "MLProject", "credit")["status"]["champion"] == champion
    md_status = get(plane, "ModelDeployment", "credit")["status"]
    assert md_status["stableVersion"] == champion
    assert md_status.get("canaryVersion") is None
    assert md_status.get("history", []) == []  # no canary ever started, so nothing was rolled back
    names = {d["metadata"]["name"] for d in plane.kube.list("apps/v1", "Deployment")}
    assert names == {f"credit-{champion}"}, names
    assert answer["version"] == champion
    assert traffic.failed == 0

    assert retrained_condition["reason"] == "WorseThanChampion"
    assert version in retrained_condition["message"]
    assert "champion keeps serving" in retrained_condition["message"]
    assert get(plane, "DriftMonitor", "credit")["status"]["lastRetrainRun"] == run
