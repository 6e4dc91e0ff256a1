"""Deployments end to end: ReplicaSets, real server processes, probes, rolling updates."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from .conftest import RunnerThread
from .helpers import Kube, alive, condition, deployment, eventually, pids_of, server_container

HTTP_PROBE: dict[str, Any] = {
    "httpGet": {"path": "/healthz", "port": "http"},
    "periodSeconds": 0.2,
    "failureThreshold": 1,
}


def ready_pods(kube: Kube, app: str) -> list[dict[str, Any]]:
    pods = kube.list("pods", f"app={app}")
    return [p for p in pods if (condition(p, "Ready") or {}).get("status") == "True"]


def settled(kube: Kube, name: str, replicas: int) -> Any:
    obj = kube.get("deployments", name)
    status = obj.get("status") or {}
    done = (
        status.get("observedGeneration") == obj["metadata"]["generation"]
        and status.get("replicas", 0) == replicas
        and status.get("updatedReplicas", 0) == replicas
        and status.get("availableReplicas", 0) == replicas
        and len(kube.list("pods", f"app={name}")) == replicas
    )
    return obj if done else None


def test_scaling_starts_and_stops_processes(kube: Kube, runner: RunnerThread) -> None:
    kube.create("deployments", deployment("web", 1, [server_container(readinessProbe=HTTP_PROBE)]))
    obj = eventually(lambda: settled(kube, "web", 1))
    status = obj["status"]
    assert (status["readyReplicas"], status.get("unavailableReplicas", 0)) == (1, 0)
    assert condition(obj, "Available")["status"] == "True"
    assert condition(obj, "Progressing")["reason"] == "NewReplicaSetAvailable"
    [rs] = kube.list("replicasets", "app=web")
    assert rs["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    [pod] = kube.list("pods", "app=web")
    assert pod["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert pod["metadata"]["ownerReferences"][0]["name"] == rs["metadata"]["name"]
    answer = requests.get(f"http://{pod['status']['podIP']}:8080/", timeout=5).text
    assert answer == pod["metadata"]["name"]

    kube.patch("deployments", "web", {"spec": {"replicas": 3}})
    eventually(lambda: settled(kube, "web", 3))
    pods = kube.list("pods", "app=web")
    pids = [pid for p in pods for pid in pids_of(p)]
    assert len(pids) == 3
    assert all(alive(pid) for pid in pids)
    assert len({p["status"]["podIP"] for p in pods}) == 3

    kube.patch("deployments", "web", {"spec": {"replicas": 0}})
    eventually(lambda: settled(kube, "web", 0))
    eventually(lambda: not any(alive(pid) for pid in pids))


def test_failing_readiness_probe_keeps_the_pod_not_ready(kube: Kube, runner: RunnerThread) -> None:
    probe = {**HTTP_PROBE, "httpGet": {"path": "/healthz", "port": 8080}}  # by number this time
    kube.create("deployments", deployment("sick", 1, [server_container(readinessProbe=probe)]))
    [pod] = eventually(lambda: ready_pods(kube, "sick"))
    workdir = Path(runner.config.home) / "pods" / "default" / pod["metadata"]["name"] / "web"
    (workdir / "unhealthy").write_text("")
    eventually(lambda: not ready_pods(kube, "sick"))
    pod = kube.get("pods", pod["metadata"]["name"])
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["containerStatuses"][0]["ready"] is False
    assert condition(pod, "ContainersReady")["status"] == "False"
    assert eventually(lambda: kube.get("deployments", "sick")["status"].get("readyReplicas", 0) == 0)
    (workdir / "unhealthy").unlink()
    eventually(lambda: ready_pods(kube, "sick"))


def test_liveness_failure_restarts_the_container(kube: Kube, runner: RunnerThread) -> None:
    probe = {**HTTP_PROBE, "initialDelaySeconds": 0.5, "failureThreshold": 2}
    kube.create("deployments", deployment("zombie", 1, [server_container(livenessProbe=probe)]))
    [pod] = eventually(lambda: ready_pods(kube, "zombie"))
    name = pod["metadata"]["name"]
    [first_pid] = pids_of(pod)
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    workdir = Path(runner.config.home) / "pods" / "default" / name / "web"
    (workdir / "unhealthy").write_text("")

    def restarted() -> Any:
        current = kube.get("pods", name)
        return current if current["status"]["containerStatuses"][0]["restartCount"] >= 1 else None

    eventually(restarted)
    (workdir / "unhealthy").unlink()
    current = eventually(lambda: [p for p in ready_pods(kube, "zombie") if pids_of(p) != [first_pid]])[0]
    status = current["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] in (0, 143)
    assert "running" in status["state"]
    assert not alive(first_pid)
    assert current["metadata"]["name"] == name  # the same pod, restarted in place


def test_rolling_update_replaces_pods(kube: Kube, runner: RunnerThread) -> None:
    body = deployment("roll", 3, [server_container(readinessProbe=HTTP_PROBE)])
    body["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    kube.create("deployments", body)
    eventually(lambda: settled(kube, "roll", 3))
    before = {p["metadata"]["name"]: pids_of(p)[0] for p in kube.list("pods", "app=roll")}
    env = [{"name": "VERSION", "value": "2"}]
    container = server_container(readinessProbe=HTTP_PROBE)
    container["env"] = container["env"] + env
    kube.patch("deployments", "roll", {"spec": {"template": {"spec": {"containers": [container]}}}})
    most = 0

    def rolled() -> Any:
        nonlocal most
        pods = kube.list("pods", "app=roll")
        most = max(most, len(pods))
        obj = settled(kube, "roll", 3)
        return obj if obj and not set(before) & {p["metadata"]["name"] for p in pods} else None

    obj = eventually(rolled, timeout=30)
    assert most <= 4  # maxSurge 1
    rsets = kube.list("replicasets", "app=roll")
    assert sorted(rs["spec"]["replicas"] for rs in rsets) == [0, 3]
    new = next(rs for rs in rsets if rs["spec"]["replicas"] == 3)
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert obj["status"]["updatedReplicas"] == 3
    for pod in kube.list("pods", "app=roll"):
        ip = pod["status"]["podIP"]
        assert requests.get(f"http://{ip}:8080/env/VERSION", timeout=5).text == "2"
    eventually(lambda: not any(alive(pid) for pid in before.values()))


def test_recreate_strategy_and_deleting_the_deployment(kube: Kube, runner: RunnerThread) -> None:
    body = deployment("again", 2, [server_container()])
    body["spec"]["strategy"] = {"type": "Recreate"}
    kube.create("deployments", body)
    eventually(lambda: settled(kube, "again", 2))
    old = [pid for p in kube.list("pods", "app=again") for pid in pids_of(p)]
    kube.patch("deployments", "again", {"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}})
    eventually(lambda: not any(alive(pid) for pid in old) and settled(kube, "again", 2))
    pids = [pid for p in kube.list("pods", "app=again") for pid in pids_of(p)]
    assert len(pids) == 2
    assert not set(pids) & set(old)
    kube.delete("deployments", "again")
    eventually(lambda: kube.list("pods", "app=again") == [] and kube.list("replicasets", "app=again") == [])
    eventually(lambda: not any(alive(pid) for pid in pids))


def test_a_settled_cluster_costs_no_requests(kube: Kube, runner: RunnerThread, apiserver: Any) -> None:
    kube.create("deployments", deployment("calm", 2, [server_container(readinessProbe=HTTP_PROBE)]))
    eventually(lambda: settled(kube, "calm", 2))
    assert any(r.user_agent == "mloop-podrunner" for r in apiserver.server.request_log)
    time.sleep(1.5)  # let trailing status writes land
    apiserver.server.clear_request_log()
    time.sleep(2.5)
    records = [r for r in apiserver.server.request_log if r.user_agent == "mloop-podrunner"]
    assert [(r.method, r.path) for r in records if r.verb != "watch"] == []
