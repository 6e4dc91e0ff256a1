"""The real operator process against the emulator and moto: MLProject readiness as a user sees it.

Each test applies the generated CRDs to a fresh emulator, starts ``python -m mloop.operator`` as a child
process and watches the objects through the API, counting the operator's writes in the emulator's request log.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.apiserver import ApiServerHandle
from tests.fixtures.s3 import S3Handle
from tests.support.kube import Kube, condition, wait_for
from tests.support.processes import OperatorProcess
from tests.support.s3 import operator_s3_env, upload

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
API = "mloop.io/v1alpha1"
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def project(name: str, bucket: str, uri: str, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text()))
    body["metadata"] = {"name": name, "namespace": "default"}
    body["spec"]["storage"] = {"bucket": bucket}
    if secret:
        body["spec"]["storage"]["credentialsSecretRef"] = {"name": secret}
    body["spec"]["data"]["source"]["uri"] = uri
    return body


@pytest.fixture
def kube(apiserver: ApiServerHandle) -> Kube:
    kube = Kube(apiserver.url)
    kube.apply_files(sorted((ROOT / "crds").glob("*.yaml")))
    return kube


@pytest.fixture
def operator(apiserver: ApiServerHandle, s3_server: S3Handle, tmp_path: Path) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        apiserver.kubeconfig,
        tmp_path / "operator.log",
        {
            **operator_s3_env(s3_server),
            "MLOOP_RESYNC_SECONDS": "1",
            "MLOOP_BACKOFF_BASE_SECONDS": "0.5",
            "MLOOP_BACKOFF_MAX_SECONDS": "2",
        },
    )
    proc.start()
    yield proc
    proc.stop()


def ready(kube: Kube, name: str) -> dict[str, Any] | None:
    obj = kube.get(API, "MLProject", name)
    return condition(obj, "Ready")


def writes_to(apiserver: ApiServerHandle, name: str, since: int) -> list[str]:
    """Writes the operator made to the MLProject ``name`` (and Events about it) after record ``since``."""
    found = []
    for record in apiserver.server.request_log[since:]:
        if record.verb not in WRITES:
            continue
        if record.resource == "mlprojects" and record.name == name:
            found.append(f"{record.verb} {record.path}")
    return found


def warnings_for(kube: Kube, name: str) -> list[dict[str, Any]]:
    return [e for e in kube.events_for(name) if e["type"] == "Warning"]


def test_project_becomes_ready_and_settles_with_zero_writes(
    kube: Kube, apiserver: ApiServerHandle, s3_server: S3Handle, operator: OperatorProcess
) -> None:
    bucket = s3_server.unique_bucket("ready")
    upload(s3_server, bucket, "datasets/credit.csv", b"a,b,target\n1,2,0\n")
    kube.create(project("credit", bucket, f"s3://{bucket}/datasets/credit.csv"))

    cond = wait_for(lambda: (c := ready(kube, "credit")) and c["status"] == "True" and c, what="Ready=True")
    assert cond["reason"] == "Ready"
    obj = kube.get(API, "MLProject", "credit")
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    assert {c["type"]: c["status"] for c in obj["status"]["conditions"]} == {
        "StorageReady": "True",
        "DataAvailable": "True",
        "Ready": "True",
    }
    # No finalizer: deleting a project never waits for the operator.
    assert obj["metadata"].get("finalizers", []) == []
    # kopf keeps its bookkeeping under our prefix, never in status.
    assert set(obj["status"]) <= {"observedGeneration", "conditions", "phase", "counts"}

    time.sleep(1.5)  # let the create handler's own bookkeeping finish
    mark = len(apiserver.server.request_log)
    time.sleep(4.0)  # four resync periods
    assert writes_to(apiserver, "credit", mark) == []
    assert "mloop_reconciles_total" in operator.metrics()

    # Killed and restarted, the operator resumes the settled object without a single write.
    operator.kill()
    mark = len(apiserver.server.request_log)
    operator.start()
    time.sleep(4.0)
    assert writes_to(apiserver, "credit", mark) == []
    assert warnings_for(kube, "credit") == []


def test_missing_bucket_is_storage_unavailable_with_one_warning(
    kube: Kube, apiserver: ApiServerHandle, operator: OperatorProcess
) -> None:
    kube.create(project("nobucket", "no-such-bucket-here", "s3://no-such-bucket-here/data.csv"))
    cond = wait_for(
        lambda: (c := ready(kube, "nobucket")) and c["status"] == "False" and c, what="Ready=False"
    )
    assert cond["reason"] == "StorageUnavailable"
    assert "no-such-bucket-here" in cond["message"]
    assert "BucketNotFound" in cond["message"]
    time.sleep(5.0)  # several retries with backoff
    warnings = warnings_for(kube, "nobucket")
    assert [(e["reason"], e["count"]) for e in warnings] == [("StorageUnavailable", 1)]

    operator.kill()
    operator.start()
    time.sleep(3.0)
    assert len(warnings_for(kube, "nobucket")) == 1


def test_missing_data_then_data_arrives(kube: Kube, s3_server: S3Handle, operator: OperatorProcess) -> None:
    bucket = s3_server.unique_bucket("late")
    kube.create(project("late", bucket, f"s3://{bucket}/partitions/"))
    cond = wait_for(lambda: (c := ready(kube, "late")) and c["status"] == "False" and c, what="DataNotFound")
    assert cond["reason"] == "DataNotFound"

    upload(s3_server, bucket, "partitions/2026-01-01.parquet", b"PAR1")
    wait_for(lambda: (c := ready(kube, "late")) and c["status"] == "True", what="Ready after data arrives")
    events = sorted(kube.events_for("late"), key=lambda e: int(e["metadata"]["resourceVersion"]))
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "DataNotFound"), ("Normal", "Ready")]


def test_credentials_come_from_the_named_secret(
    kube: Kube, s3_server: S3Handle, operator: OperatorProcess
) -> None:
    bucket = s3_server.unique_bucket("secret")
    upload(s3_server, bucket, "d.csv", b"x,target\n1,0\n")
    kube.create(project("withsecret", bucket, f"s3://{bucket}/d.csv", secret="s3-credentials"))
    cond = wait_for(
        lambda: (c := ready(kube, "withsecret")) and c["status"] == "False" and c, what="CredentialsNotFound"
    )
    assert cond["reason"] == "CredentialsNotFound"
    assert "s3-credentials" in cond["message"]

    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s3-credentials", "namespace": "default"},
            "stringData": {
                "AWS_ACCESS_KEY_ID": s3_server.access_key,
                "AWS_SECRET_ACCESS_KEY": "a-secret-value-that-must-not-leak",
            },
        }
    )
    wait_for(lambda: (c := ready(kube, "withsecret")) and c["status"] == "True", what="Ready with the Secret")
    obj = kube.get(API, "MLProject", "withsecret")
    everything = yaml.safe_dump(obj) + yaml.safe_dump(kube.events_for("withsecret"))
    assert "a-secret-value-that-must-not-leak" not in everything
    assert "a-secret-value-that-must-not-leak" not in operator.logs()
