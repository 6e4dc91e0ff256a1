"""The runner under a flaky API: failed writes, conflict storms and cut watches change nothing."""

from __future__ import annotations

from tests.fixtures.apiserver import ApiServerHandle

from .conftest import RunnerThread
from .helpers import Kube, condition, container, deployment, eventually, job, server_container


def test_flaky_api_still_converges_without_duplicates(
    kube: Kube, runner: RunnerThread, apiserver: ApiServerHandle
) -> None:
    kube.create("jobs", job("sturdy", [container("print('fine')")]))
    kube.create("deployments", deployment("steady", 2, [server_container()]))
    apiserver.faults.configure(
        seed=7,
        write_failure_rate=0.3,
        retry_after_seconds=0,
        conflict_rate=0.2,
        watch_cut_every=3,
        resources=["pods", "jobs", "deployments", "replicasets"],
    )
    done = eventually(lambda: condition(kube.get("jobs", "sturdy"), "Complete"), timeout=30)
    assert done["status"] == "True"

    def settled() -> bool:
        status = kube.get("deployments", "steady").get("status") or {}
        return status.get("availableReplicas") == 2 and status.get("updatedReplicas") == 2

    eventually(settled, timeout=30)
    assert apiserver.faults.injected > 0
    apiserver.faults.reset()
    assert len(kube.list("pods", "job-name=sturdy")) == 1
    assert kube.get("jobs", "sturdy")["status"]["succeeded"] == 1
    assert len(kube.list("pods", "app=steady")) == 2
    assert len(kube.list("replicasets", "app=steady")) == 1
