"""What the operator really calls, from the API emulator's request log, must be granted by the chart; what the
chart grants but nothing called must carry a written reason in docs/rbac.md.

The log comes from ``MLOOP_RBAC_REQUEST_LOG`` (a JSON list of request records, e.g. saved by a full
integration run) or, by default, from a short scenario here: the real operator trains a project whose storage
names a credentials Secret, gates the version and crowns it.
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


def scenario(plane: Plane) -> list[dict[str, Any]]:
    upload(plane.s3, plane.bucket, "datasets/credit.csv", credit_csv(800, seed=3))
    body = yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text())
    project = copy.deepcopy(body)
    project["metadata"] = {"name": "credit", "namespace": "default"}
    project["spec"]["storage"] = {"bucket": plane.bucket, "credentialsSecretRef": {"name": S3_SECRET}}
    project["spec"]["data"]["source"]["uri"] = f"s3://{plane.bucket}/datasets/credit.csv"
    project["spec"]["training"]["candidates"] = [
        {"algorithm": "logistic_regression", "params": {"max_iter": 300}}
    ]
    plane.kube.create(project)
    plane.kube.create(
        {
            "apiVersion": API,
            "kind": "TrainingRun",
            "metadata": {"name": "credit-run-1", "namespace": "default"},
            "spec": {"projectRef": {"name": "credit"}},
        }
    )

    def settled() -> dict[str, Any] | None:
        run = plane.kube.get(API, "TrainingRun", "credit-run-1").get("status", {})
        if run.get("phase") == "Failed":
            raise AssertionError(f"the run failed: {run}\n{plane.operator.logs()}")
        version = run.get("modelVersion")
        stage = version and plane.kube.get(API, "ModelVersion", version).get("status", {}).get("stage")
        return run if stage in ("champion", "rejected") else None

    wait_for(settled, timeout=240, interval=1, what="credit-run-1 trained and its version judged")
    return [record.to_dict() for record in plane.apiserver.server.request_log]


@pytest.fixture
def request_log(request: pytest.FixtureRequest, tmp_path: Path) -> list[dict[str, Any]]:
    path = os.environ.get("MLOOP_RBAC_REQUEST_LOG")
    if path:
        records: list[dict[str, Any]] = json.loads(Path(path).read_text())
        return records
    plane: Plane = request.getfixturevalue("plane")
    records = scenario(plane)
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
