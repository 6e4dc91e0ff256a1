"""S3 outages on the embedded control plane: retries, a clear status, and no logged traffic lost silently.

The operator and every workload it starts (trainer, prediction server, drift checker) reach S3 through a
fault proxy in front of moto, so an outage here is real for all of them: connections are reset until the
test heals it. The test itself reads and writes moto directly, to see what S3 really holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
import urllib3
from minio import Minio
from prometheus_client.parser import text_string_to_metric_families

from mloop.demo.traffic import TrafficGenerator
from tests.support.examples import example, small_project
from tests.support.kube import Kube, condition, wait_for
from tests.support.plane import Plane, ProxiedPlane

pytestmark = pytest.mark.integration
API = "mloop.io/v1alpha1"
TRAFFIC_PREFIX = "default/credit/traffic/credit/"


def start_project(plane: Plane) -> None:
    small_project(plane, "datasets/credit.csv")


def create_run(kube: Kube, name: str) -> None:
    kube.create(
        {
            "apiVersion": API,
            "kind": "TrainingRun",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"projectRef": {"name": "credit"}},
        }
    )


def get(kube: Kube, kind: str, name: str) -> dict[str, Any]:
    return kube.get(API, kind, name)


def names(kube: Kube, kind: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in kube.list(API, kind))


def warnings(kube: Kube, name: str) -> list[tuple[str, int]]:
    return [(e["reason"], e["count"]) for e in kube.events_for(name) if e["type"] == "Warning"]


def ready_reason(obj: dict[str, Any]) -> str | None:
    ready = condition(obj, "Ready")
    return f"{ready['status']}/{ready['reason']}" if ready else None


def champion(kube: Kube, version: str) -> Callable[[], dict[str, Any] | None]:
    return polled(kube, "ModelVersion", version, lambda v: v.get("status", {}).get("stage") == "champion")


def polled(
    kube: Kube, kind: str, name: str, test: Callable[[dict[str, Any]], bool]
) -> Callable[[], dict[str, Any] | None]:
    """A ``wait_for`` check: the object once ``test`` holds for it (absent counts as not yet)."""

    def check() -> dict[str, Any] | None:
        if name not in names(kube, kind):
            return None
        body = get(kube, kind, name)
        return body if test(body) else None

    return check


def test_training_fails_or_waits_with_a_reason_and_one_version_comes_out(
    plane_with_s3_proxy: ProxiedPlane,
) -> None:
    plane, proxy = plane_with_s3_proxy.plane, plane_with_s3_proxy.proxy
    kube = plane.kube
    start_project(plane)

    # 1. S3 goes down while the trainer writes its outputs: the run fails, saying why, with one Warning.
    proxy.trip_after("PUT", "/runs/outage-1/")
    create_run(kube, "outage-1")
    failed = wait_for(
        polled(kube, "TrainingRun", "outage-1", lambda r: r.get("status", {}).get("phase") == "Failed"),
        timeout=180,
        interval=1,
        what="outage-1 failed",
    )
    assert proxy.down
    assert proxy.answered("/runs/outage-1/", status=0) > 0  # the outage hit the trainer
    ready = condition(failed, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "StorageUnavailable"), ready
    assert "cannot reach S3" in ready["message"], ready
    assert names(kube, "ModelVersion") == []
    wait_for(lambda: warnings(kube, "outage-1"), what="a Warning for outage-1")
    assert warnings(kube, "outage-1") == [("StorageUnavailable", 1)]

    # 2. S3 is back for a new run, and goes down again right after the trainer's last write: the Job has
    # succeeded but the operator cannot read the result, so the run waits, says why, and records nothing.
    proxy.trip_after("PUT", "/runs/outage-2/result.json")
    create_run(kube, "outage-2")
    waiting = wait_for(
        polled(kube, "TrainingRun", "outage-2", lambda r: ready_reason(r) == "False/StorageUnavailable"),
        timeout=180,
        interval=1,
        what="outage-2 waiting for S3",
    )
    assert "result.json" in str(condition(waiting, "Ready"))
    assert waiting["status"]["phase"] == "Running"
    attempts = proxy.answered("/runs/outage-2/result.json", method="GET", status=0)
    wait_for(
        lambda: proxy.answered("/runs/outage-2/result.json", method="GET", status=0) > attempts,
        timeout=60,
        what="the operator retrying the read",
    )
    assert names(kube, "ModelVersion") == []
    assert get(kube, "TrainingRun", "outage-2")["status"]["phase"] == "Running"

    # 3. S3 is back just long enough for the operator to read the result: the version is recorded, but its
    # artifact cannot be verified yet, so it stays a candidate that says why.
    proxy.trip_after("GET", "/runs/outage-2/result.json")
    unverified = wait_for(
        polled(kube, "ModelVersion", "credit-1", lambda v: ready_reason(v) == "False/StorageUnavailable"),
        timeout=60,
        interval=0.5,
        what="credit-1 waiting for S3",
    )
    assert unverified["status"]["stage"] == "candidate"
    assert condition(unverified, "Validated") is None
    assert not get(kube, "MLProject", "credit").get("status", {}).get("champion")

    # 4. S3 is back for good: one version, its checksum verified against the bytes S3 holds, champion.
    proxy.heal()
    version = wait_for(champion(kube, "credit-1"), timeout=90, interval=1, what="credit-1 champion")
    verified = condition(version, "ArtifactVerified")
    assert verified is not None
    assert (verified["status"], verified["reason"]) == ("True", "ChecksumMatched"), verified
    artifact = version["spec"]["artifact"]
    key = artifact["uri"].removeprefix(f"s3://{plane.bucket}/")
    data = _minio(plane).get_object(plane.bucket, key).read()
    assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
    run = get(kube, "TrainingRun", "outage-2")["status"]
    assert (run["phase"], run["modelVersion"]) == ("Succeeded", "credit-1")
    assert names(kube, "ModelVersion") == ["credit-1"]
    assert get(kube, "TrainingRun", "outage-1")["status"]["phase"] == "Failed"  # a failure is final
    assert warnings(kube, "outage-2") == [("StorageUnavailable", 1)]
    assert warnings(kube, "credit-1") == [("StorageUnavailable", 1)]


def test_serving_keeps_answering_and_a_failed_drift_check_is_reported(
    plane_with_s3_proxy: ProxiedPlane,
) -> None:
    plane, proxy = plane_with_s3_proxy.plane, plane_with_s3_proxy.proxy
    kube = plane.kube
    start_project(plane)
    create_run(kube, "serve-1")
    wait_for(champion(kube, "credit-1"), timeout=180, interval=1, what="credit-1 champion")
    deployment = example("modeldeployment.yaml")
    deployment["spec"]["model"] = {"versionRef": {"name": "credit-1"}}
    deployment["spec"]["replicas"] = 1  # one server: its /metrics count every request
    kube.create(deployment)
    wait_for(
        lambda: get(kube, "ModelDeployment", "credit").get("status", {}).get("readyReplicas", 0) >= 1,
        timeout=90,
        what="credit-1 served",
    )
    service = kube.request("GET", "/api/v1/namespaces/default/services/credit")
    url = f"http://{service['spec']['clusterIP']}:8080"
    features = [f["name"] for f in get(kube, "ModelVersion", "credit-1")["spec"]["signature"]["inputs"]]
    traffic = TrafficGenerator(f"{url}/predict", features, rate_per_second=10)
    traffic.start()
    try:
        wait_for(lambda: counters(url)["written"] > 0, timeout=30, what="a first traffic-log flush")

        # S3 goes down for everyone; a DriftMonitor created now runs its first check during the outage.
        proxy.outage()
        sent_before = traffic.sent
        kube.create(drift_monitor())
        failed = wait_for(
            polled(kube, "DriftMonitor", "credit", lambda m: ready_reason(m) == "False/StorageUnavailable"),
            timeout=120,
            interval=1,
            what="the failed check reported",
        )
        # The outage outlasts the store's retries: a batch is held for later, while /predict answers.
        wait_for(lambda: counters(url)["held"] > 0, timeout=60, what="a log batch held")
        sent_during = traffic.sent - sent_before
        proxy.heal()
        failed_job = failed["status"]["lastCheckJob"]
        checked = wait_for(
            polled(
                kube,
                "DriftMonitor",
                "credit",
                lambda m: ready_reason(m) == "True/Watching" and m["status"]["lastCheckJob"] != failed_job,
            ),
            timeout=120,
            interval=1,
            what="the next window checked",
        )
    finally:
        traffic.stop()

    # Serving: every request answered while S3 was down, and every row logged once it was back.
    assert sent_during > 0
    assert traffic.failed == 0
    assert proxy.answered("/traffic/", status=0) > 0  # the log really met the outage

    def settled() -> dict[str, float] | None:
        now = counters(url)
        return now if now["written"] == traffic.sent and now["held"] == 0 else None

    final = wait_for(settled, timeout=60, what="the traffic log caught up")
    assert final["predictions"] == traffic.sent
    assert final["dropped"] == 0
    assert final["server_errors"] == 0
    assert logged_lines(plane) == final["written"]

    # Drift: the failed check says why, raised no alert and no run; the next window is checked normally.
    message = str(condition(failed, "Checked"))
    assert failed_job in message
    assert "cannot reach S3" in message
    assert failed["status"]["consecutiveDriftWindows"] == 0
    assert not failed["status"]["drifted"]
    assert (condition(checked, "Checked") or {}).get("status") == "True"
    assert checked["status"]["samples"] is not None
    report = checked["status"]["lastReport"].removeprefix(f"s3://{plane.bucket}/")
    assert (_minio(plane).stat_object(plane.bucket, report).size or 0) > 0
    assert names(kube, "TrainingRun") == ["serve-1"]
    monitor_warnings = [
        (e["reason"], e["count"])
        for e in kube.events_for("credit")
        if e["type"] == "Warning" and e["involvedObject"]["kind"] == "DriftMonitor"
    ]
    assert monitor_warnings == [("StorageUnavailable", 1)]


def drift_monitor() -> dict[str, Any]:
    """Checks every 30 s of traffic; one drifted window would retrain, so a misread failure would show."""
    monitor = example("driftmonitor.yaml")
    spec = monitor["spec"]
    spec["schedule"] = {"interval": "30s"}
    spec["window"] = {"duration": "30s", "minSamples": 20}
    spec["detector"]["pValue"] = 0.001  # the traffic is drawn like the training data: no false alarms
    spec["predictionDrift"] = False
    spec.pop("performance")
    spec["alert"] = {"consecutiveWindows": 1}
    return monitor


def counters(url: str) -> dict[str, float]:
    """The server's own counts, from its ``/metrics``: rows predicted, log lines written, dropped, held."""
    text = urllib3.request("GET", f"{url}/metrics", timeout=5.0, retries=False).data.decode()
    totals = {"predictions": 0.0, "written": 0.0, "dropped": 0.0, "held": 0.0, "server_errors": 0.0}
    names = {
        "mloop_predictions_total": "predictions",
        "mloop_traffic_log_written_total": "written",
        "mloop_traffic_log_dropped_total": "dropped",
        "mloop_traffic_log_held": "held",
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                totals[names[sample.name]] += sample.value
            elif sample.name == "mloop_prediction_errors_total" and sample.labels["code"].startswith("5"):
                totals["server_errors"] += sample.value
    return totals


def logged_lines(plane: Plane) -> int:
    """Lines of logged traffic S3 really holds (read from moto, behind the proxy's back)."""
    client = _minio(plane)
    return sum(
        client.get_object(plane.bucket, obj.object_name).read().count(b"\n")
        for obj in client.list_objects(plane.bucket, prefix=TRAFFIC_PREFIX, recursive=True)
        if obj.object_name
    )


def _minio(plane: Plane) -> Minio:
    s3 = plane.s3
    return Minio(s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False)
