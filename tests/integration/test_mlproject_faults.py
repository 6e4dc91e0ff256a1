"""The operator under an API fault storm: failed writes, throttling and cut watches still converge,
with one Event per transition and a bounded number of writes (no hot loop)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.apiserver import ApiServerHandle
from tests.fixtures.s3 import S3Handle
from tests.integration.test_mlproject_operator import API, project
from tests.support.kube import Kube, KubeError, condition, wait_for
from tests.support.processes import OperatorProcess
from tests.support.s3 import operator_s3_env, upload

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PROJECTS = 6


@pytest.fixture
def operator(apiserver: ApiServerHandle, s3_server: S3Handle, tmp_path: Path) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        apiserver.kubeconfig,
        tmp_path / "operator.log",
        {
            **operator_s3_env(s3_server),
            "MLOOP_RESYNC_SECONDS": "2",
            "MLOOP_BACKOFF_BASE_SECONDS": "0.2",
            "MLOOP_BACKOFF_MAX_SECONDS": "2",
        },
    )
    yield proc
    proc.stop()


def test_fault_storm_converges_without_duplicates_or_hot_loops(
    apiserver: ApiServerHandle, s3_server: S3Handle, operator: OperatorProcess
) -> None:
    kube = Kube(apiserver.url)
    kube.apply_files(sorted((ROOT / "crds").glob("*.yaml")))
    bucket = s3_server.unique_bucket("storm")
    upload(s3_server, bucket, "d.csv", b"x,target\n1,0\n")
    apiserver.faults.configure(
        seed=7,
        write_failure_rate=0.3,
        write_failure_codes=(500, 503, 429),
        retry_after_seconds=1,
        conflict_rate=0.2,
        watch_cut_every=4,
        resources=("mlprojects", "events"),
    )
    operator.start()
    names = [f"storm-{i}" for i in range(PROJECTS)]
    for name in names:
        # The test's own creates go through the same storm; retry them as kubectl users would.
        wait_for(
            lambda n=name: _create(kube, project(n, bucket, f"s3://{bucket}/d.csv")), what=f"create {name}"
        )

    def all_ready() -> bool:
        return all(
            (c := condition(kube.get(API, "MLProject", n), "Ready")) is not None and c["status"] == "True"
            for n in names
        )

    wait_for(all_ready, timeout=90, interval=0.5, what="every project Ready under faults")
    assert apiserver.faults.injected > 0
    apiserver.faults.reset()

    events = Counter((e["involvedObject"]["name"], e["reason"]) for e in kube.list("v1", "Event"))
    for name in names:
        assert events[(name, "Ready")] <= 1, events
    writes = Counter(
        r.name for r in apiserver.server.request_log if r.resource == "mlprojects" and r.verb == "patch"
    )
    assert max(writes[n] for n in names) <= 15, writes
    assert operator.proc is not None
    assert operator.proc.poll() is None, "the operator must not crash under API faults"


def _create(kube: Kube, body: dict[str, object]) -> bool:
    try:
        kube.create(body)
    except KubeError as exc:  # injected 5xx/429/409 on the test's own write
        return "AlreadyExists" in str(exc)
    return True
