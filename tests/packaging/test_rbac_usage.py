"""What the operator really calls, from the API emulator's request log, must be granted by the chart; what the
chart grants but nothing called must carry a written reason in docs/rbac.md.

The log comes from ``MLOOP_RBAC_REQUEST_LOG`` (a JSON list of request records, e.g. saved by a full
integration run) or, by default, from a short scenario here that walks every path the operator has: it
trains a project whose storage names a credentials Secret and crowns the version, serves it in ``replicas``
mode and (with the HTTPRoute CRD installed) autoscaled in ``gateway-api`` mode, monitors it for drift,
retrains on request, aborts one canary and promotes the other, undoes a user's edit of a child, and removes
the children that autoscaling and the Gateway no longer need. To that scenario's log it adds every operator
request to every emulator earlier in the same session (collected by the ``apiserver`` fixture; in a full
``make test`` run that is the whole integration suite, which runs before this directory).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.local.datasets import credit_csv
from tests.fixtures.apiserver import operator_requests
from tests.packaging.chart import NAMESPACE, render
from tests.packaging.rbac import Request, allowed, cluster_grants
from tests.packaging.test_rbac import documented_rules
from tests.support.kube import wait_for
from tests.support.plane import S3_SECRET, Plane
from tests.support.s3 import upload

ROOT = Path(__file__).resolve().parents[2]
API = "mloop.io/v1alpha1"
#: A release named mloop, with default values: what `helm install mloop` and deploy/ grant.
ACCOUNT = "mloop"
MD_PATH = f"/apis/{API}/namespaces/default/modeldeployments/{{}}"


def is_operator(record: dict[str, Any]) -> bool:
    """kopf's watches and patches (``kopf/<version>``) and our gateway's (``mloop-operator/<version>``)."""
    agent = str(record.get("user_agent", ""))
    return agent.startswith(("kopf/", "mloop-operator/"))


def to_request(record: dict[str, Any]) -> Request | None:
    """The RBAC view of a record; None for discovery and other non-resource URLs."""
    if not record["resource"]:
        return None
    resource = record["resource"] + (f"/{record['subresource']}" if record["subresource"] else "")
    namespace = "" if record["resource"] == "namespaces" else record["namespace"]
    return Request(record["verb"], record["group"], resource, namespace, record["name"])


def merge_patch(plane: Plane, path: str, patch: dict[str, Any]) -> None:
    plane.kube.request("PATCH", path, patch, content_type="application/merge-patch+json")


def status_of(plane: Plane, kind: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = plane.kube.get(API, kind, name).get("status") or {}
    return status


def settled_version(plane: Plane, run: str) -> str:
    """The run's ModelVersion once the gate has judged it; the scenario needs every run crowned."""

    def judged() -> str | None:
        status = status_of(plane, "TrainingRun", run)
        if status.get("phase") == "Failed":
            raise AssertionError(f"{run} failed: {status}\n{plane.operator.logs()}")
        version = status.get("modelVersion")
        stage = version and status_of(plane, "ModelVersion", version).get("stage")
        return version if stage in ("champion", "rejected") else None

    version = wait_for(judged, timeout=240, interval=1, what=f"{run} trained and its version judged")
    assert status_of(plane, "ModelVersion", version)["stage"] == "champion", version
    return version


def train(plane: Plane) -> str:
    """A project whose storage names a credentials Secret, one run, its version gated and crowned."""
    upload(plane.s3, plane.bucket, "datasets/credit.csv", credit_csv(1500, seed=7))
    upload(plane.s3, plane.bucket, "datasets/flipped.csv", credit_csv(1500, seed=8, concept=1.0))
    body = yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text())
    project = copy.deepcopy(body)
    project["metadata"] = {"name": "credit", "namespace": "default"}
    project["spec"]["storage"] = {"bucket": plane.bucket, "credentialsSecretRef": {"name": S3_SECRET}}
    project["spec"]["data"]["source"]["uri"] = f"s3://{plane.bucket}/datasets/credit.csv"
    project["spec"]["training"]["candidates"] = [
        {"algorithm": "logistic_regression", "params": {"max_iter": 500}}
    ]
    project["spec"]["problem"]["kpis"] = [{"metric": "roc_auc", "min": 0.7}]
    plane.kube.create(project)
    plane.kube.create(
        {
            "apiVersion": API,
            "kind": "TrainingRun",
            "metadata": {"name": "credit-run-1", "namespace": "default"},
            "spec": {"projectRef": {"name": "credit"}},
        }
    )
    return settled_version(plane, "credit-run-1")


def serve(plane: Plane, champion: str) -> None:
    """Two deployments of the champion, ``credit`` in replicas mode (its canary will be aborted) and
    ``credit-gw`` autoscaled behind an HTTPRoute (its canary promotes itself), and a DriftMonitor."""
    body = yaml.safe_load((ROOT / "examples" / "modeldeployment.yaml").read_text())
    fast = {"interval": "1s", "minRequests": 0}
    for name, spec in (
        ("credit", {"canary": {"steps": [{"weight": 50, "pause": "1h"}], "analysis": fast}}),
        (
            "credit-gw",
            {
                "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
                "traffic": {"mode": "gateway-api", "gatewayRef": {"name": "public"}},
                "canary": {"steps": [{"weight": 50, "pause": "1s"}], "analysis": fast},
            },
        ),
    ):
        md = copy.deepcopy(body)
        md["metadata"] = {"name": name, "namespace": "default"}
        md["spec"].update(replicas=1, **spec)
        plane.kube.create(md)
    for name in ("credit", "credit-gw"):
        wait_for(
            lambda name=name: status_of(plane, "ModelDeployment", name).get("stableVersion") == champion,
            timeout=60,
            what=f"{name} serving {champion}",
        )
    monitor = yaml.safe_load((ROOT / "examples" / "driftmonitor.yaml").read_text())
    monitor["metadata"]["namespace"] = "default"
    monitor["spec"]["schedule"] = {"interval": "1m"}
    monitor["spec"]["window"] = {"duration": "1m", "minSamples": 10}
    plane.kube.create(monitor)
    wait_for(
        lambda: status_of(plane, "DriftMonitor", "credit").get("lastCheckTime"),
        timeout=90,
        what="the first drift check folded into the monitor",
    )


def retrain(plane: Plane) -> str:
    """Retraining the operator starts itself (``mloop.io/retrain``, Argo CD's retrain action), on data whose
    concept flipped, so the new version beats the champion on its own test set and is crowned."""
    merge_patch(
        plane,
        f"/apis/{API}/namespaces/default/mlprojects/credit",
        {
            "metadata": {"annotations": {"mloop.io/retrain": "rbac-scenario"}},
            "spec": {"data": {"source": {"uri": f"s3://{plane.bucket}/datasets/flipped.csv"}}},
        },
    )
    run = wait_for(
        lambda: next(
            (r["metadata"]["name"] for r in plane.kube.list(API, "TrainingRun") if r["spec"].get("reason")),
            None,
        ),
        timeout=60,
        what="the retraining run the operator creates",
    )
    return settled_version(plane, run)


def roll_out(plane: Plane, old: str, new: str) -> None:
    """``credit`` aborts its canary (its Deployment and PDB go); ``credit-gw`` promotes, a user's edit of a
    PDB is undone, and dropping autoscaling and the Gateway removes the HPA, the route and its Services."""
    wait_for(
        lambda: status_of(plane, "ModelDeployment", "credit").get("canaryVersion") == new,
        timeout=60,
        what="the canary of credit",
    )
    merge_patch(plane, MD_PATH.format("credit"), {"metadata": {"annotations": {"mloop.io/abort": "1"}}})

    def promoted(name: str, action: str) -> bool:
        history = status_of(plane, "ModelDeployment", name).get("history") or []
        return bool(history) and history[-1]["action"] == action

    wait_for(lambda: promoted("credit", "aborted"), timeout=60, what="credit's canary aborted")
    wait_for(lambda: promoted("credit-gw", "promoted"), timeout=90, what="credit-gw promoted")
    names = {d["metadata"]["name"] for d in plane.kube.list("apps/v1", "Deployment")}
    assert names == {f"credit-{old}", f"credit-gw-{old}", f"credit-gw-{new}"}, names

    pdb = f"/apis/policy/v1/namespaces/default/poddisruptionbudgets/credit-gw-{new}"
    merge_patch(plane, pdb, {"spec": {"maxUnavailable": 2}})
    wait_for(
        lambda: plane.kube.request("GET", pdb)["spec"]["maxUnavailable"] == 1,
        timeout=60,
        what="the edited PDB restored",
    )
    merge_patch(
        plane, MD_PATH.format("credit-gw"), {"spec": {"autoscaling": None, "traffic": {"mode": "replicas"}}}
    )
    wait_for(
        lambda: (
            not plane.kube.list("autoscaling/v2", "HorizontalPodAutoscaler")
            and not plane.kube.request(
                "GET", "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"
            )["items"]
            and {s["metadata"]["name"] for s in plane.kube.list("v1", "Service")} == {"credit", "credit-gw"}
        ),
        timeout=60,
        what="the HPA, the HTTPRoute and the per-track Services removed",
    )


def scenario(plane: Plane) -> list[dict[str, Any]]:
    """Train and gate, serve two ways, monitor, retrain, then abort one canary and promote the other."""
    plane.kube.apply_files([ROOT / "tests" / "data" / "gateway-api" / "httproutes-crd.yaml"])
    champion = train(plane)
    serve(plane, champion)
    challenger = retrain(plane)
    roll_out(plane, champion, challenger)
    return [record.to_dict() for record in plane.apiserver.server.request_log]


@pytest.fixture
def request_log(request: pytest.FixtureRequest, tmp_path: Path) -> list[dict[str, Any]]:
    path = os.environ.get("MLOOP_RBAC_REQUEST_LOG")
    if path:
        records: list[dict[str, Any]] = json.loads(Path(path).read_text())
        return records
    plane: Plane = request.getfixturevalue("plane")
    records = scenario(plane) + operator_requests(request.config)
    (tmp_path / "request-log.json").write_text(json.dumps(records))
    return records


@pytest.mark.integration
def test_operator_requests_are_granted_and_unused_grants_are_explained(
    request_log: list[dict[str, Any]],
) -> None:
    operator = [r for r in request_log if is_operator(r)]
    assert any(r["user_agent"].startswith("kopf/") for r in operator), "no kopf requests in the log"
    assert any(r["user_agent"].startswith("mloop-operator/") for r in operator), (
        "no gateway requests in the log"
    )
    requests = {req for r in operator if (req := to_request(r)) is not None}
    objects = render()
    denied = sorted(req for req in requests if not allowed(objects, ACCOUNT, NAMESPACE, req))
    assert not denied, "the chart does not grant:\n  " + "\n  ".join(map(str, denied))

    used = {req.triple for req in requests}
    unused = cluster_grants(objects) - used
    documented = documented_rules(section="## Granted but not exercised")
    unexplained = sorted(unused - documented)
    assert not unexplained, f"granted, unused by the tests and not explained in docs/rbac.md: {unexplained}"
    # Honest in the other direction too: a grant listed as unexercised that the log shows in use is stale.
    stale_rows = sorted(documented & used)
    assert not stale_rows, (
        f"docs/rbac.md lists these as not exercised, but the operator used them: {stale_rows}"
    )
