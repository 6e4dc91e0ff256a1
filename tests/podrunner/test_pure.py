"""Table-driven tests of the pure parts: expansion, env, phases, and the controllers' decisions."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

import pytest

from mloop.local.podrunner.containers import backoff_delay, should_restart
from mloop.local.podrunner.deployments import (
    RsInfo,
    deployment_status,
    fenceposts,
    plan_replicas,
    template_hash,
)
from mloop.local.podrunner.env import (
    ConfigError,
    ImageNotRunnable,
    container_argv,
    container_env,
    expand,
    mount_env_name,
    working_dir,
)
from mloop.local.podrunner.jobs import build_job_pod, plan_job
from mloop.local.podrunner.kubelet import IpAllocator
from mloop.local.podrunner.podinfo import PodInfo
from mloop.local.podrunner.probes import ProbeTracker
from mloop.local.podrunner.replicasets import deletion_order, plan_replicaset
from mloop.local.podrunner.status import ContainerView, Running, Terminated, Waiting, pod_phase, set_condition

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)", "1"),
        ("x-$(A)-$(B)", "x-1-two"),
        ("$$(A)", "$(A)"),
        ("$$$(A)", "$1"),
        ("$(MISSING)", "$(MISSING)"),
        ("$(A", "$(A"),
        ("$A", "$A"),
        ("cost: $", "cost: $"),
        ("$()", "$()"),
        ("", ""),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "B": "two"}) == expected


POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "a"}}, "spec": {}}


def env_of(container: dict[str, Any], sources: dict[Any, Any] | None = None) -> dict[str, str]:
    return container_env(
        POD,
        container,
        sources or {},
        pod_ip="127.1.0.9",
        node_name="n",
        base={"PATH": "/bin"},
        extra={"X": "ours"},
    )


def test_env_order_envfrom_then_env_then_ours() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "cm"}}, {"prefix": "S_", "secretRef": {"name": "s"}}],
        "env": [
            {"name": "A", "value": "override-$(B)"},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "LBL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "X", "value": "theirs"},
            {"name": "bad-name!", "value": "ok"},
        ],
    }
    sources = {("ConfigMap", "cm"): {"A": "a", "B": "b", "1bad": "skipped"}, ("Secret", "s"): {"K": "v"}}
    env = env_of(container, sources)
    assert env["A"] == "override-b"
    assert env["S_K"] == "v"
    assert env["IP"] == "127.1.0.9"
    assert env["LBL"] == "a"
    assert env["X"] == "ours"
    assert env["PATH"] == "/bin"
    assert "1bad" not in env


@pytest.mark.parametrize(
    ("var", "sources", "message"),
    [
        ({"secretKeyRef": {"name": "s", "key": "k"}}, {}, 'secret "s" not found'),
        (
            {"configMapKeyRef": {"name": "c", "key": "k"}},
            {("ConfigMap", "c"): {}},
            "couldn't find key k in ConfigMap ns/c",
        ),
        ({"fieldRef": {"fieldPath": "spec.volumes"}}, {}, "unsupported fieldRef"),
    ],
)
def test_env_errors(var: dict[str, Any], sources: dict[Any, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        env_of({"env": [{"name": "V", "valueFrom": var}]}, sources)


def test_optional_references_are_skipped() -> None:
    container = {
        "envFrom": [{"secretRef": {"name": "gone", "optional": True}}],
        "env": [{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k", "optional": True}}}],
    }
    assert "V" not in env_of(container)


@pytest.mark.parametrize(
    ("container", "argv"),
    [
        (
            {"image": "ghcr.io/mloop-io/mloop-trainer:1", "args": ["--x"]},
            [sys.executable, "-m", "mloop.trainer", "--x"],
        ),
        ({"image": "mloop-server:dev", "command": ["python3", "-c", "$(A)"]}, [sys.executable, "-c", "1"]),
        (
            {"image": "reg/mloop-drift@sha256:" + "a" * 64, "command": ["/bin/echo", "$$(A)"]},
            ["/bin/echo", "$(A)"],
        ),
    ],
)
def test_container_argv(container: dict[str, Any], argv: list[str]) -> None:
    assert container_argv(container, {"A": "1"}) == argv


@pytest.mark.parametrize("image", ["busybox", "ghcr.io/mloop-io/mloop-unknown:1", "ghcr.io/x/server:1"])
def test_foreign_images_are_refused(image: str) -> None:
    with pytest.raises(ImageNotRunnable, match=image.replace(".", r"\.")):
        container_argv({"image": image}, {})


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, "."),
        ("/data", "data"),
        ("/base/c/sub", "sub"),
        ("rel/x", "rel/x"),
        ("/../../etc", "etc"),
        ("..", "."),
    ],
)
def test_working_dir_stays_inside(requested: str | None, expected: str) -> None:
    base = Path("/base/c")
    assert working_dir(base, requested) == (base / expected if expected != "." else base)


def test_mount_env_name() -> None:
    assert mount_env_name("model-cache.v1") == "MLOOP_MOUNT_MODEL_CACHE_V1"


RUN = Running("t")
OK = Terminated(0, "Completed")
BAD = Terminated(1, "Error")


@pytest.mark.parametrize(
    ("policy", "states", "phase"),
    [
        ("Always", [Waiting()], "Pending"),
        ("Always", [RUN, Waiting()], "Pending"),
        ("Always", [RUN], "Running"),
        ("Always", [OK], "Running"),
        ("Never", [OK, OK], "Succeeded"),
        ("Never", [OK, BAD], "Failed"),
        ("Never", [RUN, BAD], "Running"),
        ("OnFailure", [OK], "Succeeded"),
        ("OnFailure", [BAD], "Running"),
    ],
)
def test_pod_phase(policy: str, states: list[Any], phase: str) -> None:
    views = [ContainerView(name=str(i), image="i", state=s) for i, s in enumerate(states)]
    assert pod_phase(policy, views) == phase


def test_restarting_container_keeps_the_pod_running() -> None:
    view = ContainerView(name="c", image="i", state=Waiting("CrashLoopBackOff"), last_state=BAD)
    assert pod_phase("Always", [view]) == "Running"


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 1, False),
    ],
)
def test_should_restart(policy: str, code: int, restart: bool) -> None:
    assert should_restart(policy, code) is restart


def test_backoff_doubles_to_five_minutes() -> None:
    assert [backoff_delay(10, n) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


def test_condition_transition_time_moves_only_on_flips() -> None:
    first = set_condition([], "Ready", True, "t1")
    assert set_condition(first, "Ready", True, "t2") == first
    flipped = set_condition(first, "Ready", False, "t3")
    assert flipped[0]["lastTransitionTime"] == "t3"
    updated = set_condition([], "Available", True, "t1", reason="A", update_time=True)
    again = set_condition(updated, "Available", True, "t2", reason="B", update_time=True)
    assert (again[0]["lastTransitionTime"], again[0]["lastUpdateTime"]) == ("t1", "t2")


def test_probe_tracker_thresholds() -> None:
    tracker = ProbeTracker(success_threshold=2, failure_threshold=3, result=False)
    assert [tracker.observe(ok) for ok in (True, True, False, False, True, False, False, False)] == [
        False, True, True, True, True, True, True, False,
    ]  # fmt: skip


def test_ip_allocator_is_next_fit_and_skips_used() -> None:
    ips = IpAllocator()
    assert ips.allocate({"127.1.0.2"}) == "127.1.0.3"
    assert ips.allocate(set()) == "127.1.0.4"
    small = IpAllocator("127.1.0.0/30")
    assert small.allocate(set()) == "127.1.0.2"
    with pytest.raises(RuntimeError):
        small.allocate({"127.1.0.2"})
    # Another range (--pod-network) starts at its own .2, so two planes on one host never share an address.
    assert IpAllocator("127.1.77.0/24").allocate(set()) == "127.1.77.2"


# -- Jobs -------------------------------------------------------------------------------------------


def a_job(**spec: Any) -> dict[str, Any]:
    status = spec.pop("status", {})
    policy = spec.pop("restartPolicy", "Never")
    body = {"backoffLimit": 2, "completions": 1, "parallelism": 1, **spec}
    body["template"] = {"spec": {"restartPolicy": policy, "containers": []}}
    return {"metadata": {"name": "j", "namespace": "ns", "uid": "ju"}, "spec": body, "status": status}


def pod(name: str, phase: str = "Running", **kw: Any) -> PodInfo:
    return PodInfo(name=name, phase=phase, **kw)


AGO = NOW - datetime.timedelta(seconds=100)


@pytest.mark.parametrize(
    ("job", "pods", "create", "delete", "condition", "counts"),
    [
        (a_job(), [], 1, (), None, (1, 0, 0)),
        (a_job(), [pod("a")], 0, (), None, (1, 0, 0)),
        (a_job(), [pod("a", "Succeeded")], 0, (), "Complete", (0, 1, 0)),
        (a_job(), [pod("a", "Failed", finished=AGO)], 1, (), None, (1, 0, 1)),
        (a_job(), [pod("a", "Failed", finished=NOW)], 0, (), None, (0, 0, 1)),  # back-off
        (a_job(), [pod(n, "Failed", finished=AGO) for n in "abc"], 0, (), "Failed", (0, 0, 3)),
        (a_job(backoffLimit=0), [pod("a", "Failed")], 0, (), "Failed", (0, 0, 1)),
        (a_job(completions=3, parallelism=2), [pod("a", "Succeeded")], 2, (), None, (2, 1, 0)),
        (a_job(completions=3, parallelism=5), [pod("a", "Succeeded"), pod("b")], 1, (), None, (2, 1, 0)),
        (a_job(completions=None, parallelism=2), [pod("a", "Succeeded"), pod("b")], 0, (), None, (1, 1, 0)),
        (a_job(completions=None, parallelism=2), [pod("a", "Succeeded")], 0, (), "Complete", (0, 1, 0)),
        (
            a_job(completions=2, parallelism=1),
            [pod("a", "Succeeded"), pod("b", "Succeeded"), pod("c")],
            0,
            ("c",),
            "Complete",
            (0, 2, 0),
        ),
        (a_job(restartPolicy="OnFailure"), [pod("a", restarts=2)], 0, ("a",), "Failed", (0, 0, 1)),
        (a_job(restartPolicy="OnFailure"), [pod("a", restarts=1)], 0, (), None, (1, 0, 0)),
        (
            a_job(activeDeadlineSeconds=10, status={"startTime": "2025-01-01T11:00:00Z"}),
            [pod("a")],
            0,
            ("a",),
            "Failed",
            (0, 0, 1),
        ),
        (a_job(suspend=True), [pod("a")], 0, ("a",), "Suspended", (0, None, None)),
        (a_job(status={"failed": 5}), [], 0, (), "Failed", (0, 0, 5)),
    ],
)
def test_plan_job(
    job: dict[str, Any],
    pods: list[PodInfo],
    create: int,
    delete: tuple[str, ...],
    condition: str | None,
    counts: tuple[int, int | None, int | None],
) -> None:
    plan = plan_job(job, pods, NOW, backoff_base=10)
    assert (plan.create, plan.delete) == (create, delete)
    status = plan.status
    assert (status.get("active"), status.get("succeeded"), status.get("failed")) == counts
    types = [c["type"] for c in status.get("conditions") or [] if c["status"] == "True"]
    assert types == ([condition] if condition else [])


def test_failed_job_reason_and_ttl() -> None:
    plan = plan_job(a_job(activeDeadlineSeconds=1, status={"startTime": "2025-01-01T11:00:00Z"}), [], NOW, 10)
    assert plan.status["conditions"][0]["reason"] == "DeadlineExceeded"
    when = "2025-01-01T11:58:00Z"
    complete = {"type": "Complete", "status": "True", "lastTransitionTime": when}
    done = a_job(ttlSecondsAfterFinished=60, status={"completionTime": when, "conditions": [complete]})
    assert plan_job(done, [], NOW, 10).delete_job
    done["spec"]["ttlSecondsAfterFinished"] = 600
    assert not plan_job(done, [], NOW, 10).delete_job


def test_settled_job_plan_is_stable() -> None:
    job = a_job()
    first = plan_job(job, [pod("a", ready=True)], NOW, 10)
    job["status"] = first.status
    later = plan_job(job, [pod("a", ready=True)], NOW + datetime.timedelta(seconds=5), 10)
    assert later.status == first.status
    assert later.create == 0


def test_job_pod_carries_labels_owner_and_never() -> None:
    body = build_job_pod({"apiVersion": "batch/v1", "kind": "Job", **a_job()})
    assert body["metadata"]["generateName"] == "j-"
    assert body["metadata"]["labels"]["job-name"] == "j"
    assert body["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == "ju"
    owner = body["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Job", "j", "ju")
    assert owner["controller"] is owner["blockOwnerDeletion"] is True


# -- ReplicaSets ------------------------------------------------------------------------------------


def test_deletion_order_prefers_unscheduled_pending_unready_new() -> None:
    early, late = NOW - datetime.timedelta(hours=1), NOW - datetime.timedelta(minutes=1)
    pods = [
        pod("ready-long", node="n", ready=True, ready_since=early, created="2025-01-01T00:00:00Z"),
        pod("ready-short", node="n", ready=True, ready_since=late, created="2025-01-01T00:00:00Z"),
        pod("unready-old", node="n", created="2025-01-01T00:00:00Z"),
        pod("unready-new", node="n", created="2025-01-01T01:00:00Z"),
        pod("restarty", node="n", restarts=4, created="2025-01-01T00:00:00Z"),
        pod("pending", "Pending", node="n"),
        pod("unscheduled", "Pending"),
    ]
    order = [p.name for p in deletion_order(pods)]
    assert order == [
        "unscheduled",
        "pending",
        "restarty",
        "unready-new",
        "unready-old",
        "ready-short",
        "ready-long",
    ]


@pytest.mark.parametrize(
    ("replicas", "pods", "create", "delete"),
    [
        (3, [], 3, ()),
        (3, [pod("a"), pod("b", "Failed")], 2, ()),
        (1, [pod("a", ready=True, node="n"), pod("b", node="n")], 0, ("b",)),
        (0, [pod("a", deleting=True)], 0, ()),
    ],
)
def test_plan_replicaset(replicas: int, pods: list[PodInfo], create: int, delete: tuple[str, ...]) -> None:
    rs = {"metadata": {"name": "r", "generation": 2}, "spec": {"replicas": replicas, "minReadySeconds": 0}}
    plan = plan_replicaset(rs, pods, NOW)
    assert (plan.create, plan.delete) == (create, delete)
    assert plan.status["observedGeneration"] == 2


def test_min_ready_seconds_delays_availability() -> None:
    rs = {"metadata": {"name": "r"}, "spec": {"replicas": 1, "minReadySeconds": 30}}
    fresh = pod("a", ready=True, ready_since=NOW - datetime.timedelta(seconds=10))
    aged = pod("a", ready=True, ready_since=NOW - datetime.timedelta(seconds=40))
    assert plan_replicaset(rs, [fresh], NOW).status["availableReplicas"] == 0
    assert plan_replicaset(rs, [aged], NOW).status["availableReplicas"] == 1


# -- Deployments ------------------------------------------------------------------------------------


def a_deployment(replicas: int, strategy: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "d", "namespace": "ns", "uid": "du", "generation": 3},
        "spec": {"replicas": replicas, "strategy": strategy or {}, **spec},
    }


@pytest.mark.parametrize(
    ("replicas", "rolling", "expected"),
    [
        (4, {}, (1, 1)),
        (10, {"maxSurge": "30%", "maxUnavailable": "30%"}, (3, 3)),
        (3, {"maxSurge": 0, "maxUnavailable": 0}, (0, 1)),
        (1, {"maxSurge": 1, "maxUnavailable": 0}, (1, 0)),
    ],
)
def test_fenceposts(replicas: int, rolling: dict[str, Any], expected: tuple[int, int]) -> None:
    assert fenceposts(a_deployment(replicas, {"type": "RollingUpdate", "rollingUpdate": rolling})) == expected


SURGE1 = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


@pytest.mark.parametrize(
    ("deployment", "new", "olds", "alive", "expected"),
    [
        (a_deployment(3), RsInfo("new"), [], 0, {"new": 3}),
        (a_deployment(1), RsInfo("new", 3, 3, 3, 3), [], 3, {"new": 1}),
        (a_deployment(3, SURGE1), RsInfo("new"), [RsInfo("old", 3, 3, 3, 3)], 3, {"new": 1, "old": 3}),
        (
            a_deployment(3, SURGE1),
            RsInfo("new", 1, 1, 0, 0),
            [RsInfo("old", 3, 3, 3, 3)],
            3,
            {"new": 1, "old": 3},
        ),
        (
            a_deployment(3, SURGE1),
            RsInfo("new", 1, 1, 1, 1),
            [RsInfo("old", 3, 3, 3, 3)],
            3,
            {"new": 1, "old": 2},
        ),
        (
            a_deployment(3, SURGE1),
            RsInfo("new", 1, 1, 1, 1),
            [RsInfo("old", 2, 2, 2, 2)],
            2,
            {"new": 2, "old": 2},
        ),
        (
            a_deployment(3, SURGE1),
            RsInfo("new", 3, 3, 3, 3),
            [RsInfo("old", 1, 1, 1, 1)],
            1,
            {"new": 3, "old": 0},
        ),
        (a_deployment(4), RsInfo("new"), [RsInfo("old", 4, 4, 2, 2)], 4, {"new": 1, "old": 4}),
        (a_deployment(4), RsInfo("new", 1, 1, 0, 0), [RsInfo("old", 4, 4, 2, 2)], 4, {"new": 1, "old": 3}),
        (
            a_deployment(2, {"type": "Recreate"}),
            RsInfo("new"),
            [RsInfo("old", 2, 2, 2, 2)],
            2,
            {"new": 0, "old": 0},
        ),
        (
            a_deployment(2, {"type": "Recreate"}),
            RsInfo("new"),
            [RsInfo("old", 0, 1, 0, 0)],
            1,
            {"new": 0, "old": 0},
        ),
        (
            a_deployment(2, {"type": "Recreate"}),
            RsInfo("new"),
            [RsInfo("old", 0, 0, 0, 0)],
            0,
            {"new": 2, "old": 0},
        ),
        (a_deployment(2, paused=True), RsInfo("new"), [RsInfo("old", 2)], 2, {"new": 0, "old": 2}),
    ],
)
def test_plan_replicas(
    deployment: dict[str, Any], new: RsInfo, olds: list[RsInfo], alive: int, expected: dict[str, int]
) -> None:
    assert plan_replicas(deployment, new, olds, alive) == expected


def test_deployment_status_counts_and_conditions() -> None:
    status = deployment_status(a_deployment(2), RsInfo("d-h", 2, 2, 2, 2), [], "t")
    assert status["observedGeneration"] == 3
    assert (
        status["replicas"],
        status["updatedReplicas"],
        status["readyReplicas"],
        status["availableReplicas"],
    ) == (2, 2, 2, 2)
    assert status["unavailableReplicas"] == 0
    kinds = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert kinds == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    rolling = deployment_status(a_deployment(4), RsInfo("d-h", 1, 1, 0, 0), [RsInfo("d-o", 4, 4, 2, 2)], "t")
    kinds = {c["type"]: (c["status"], c["reason"]) for c in rolling["conditions"]}
    assert kinds == {
        "Available": ("False", "MinimumReplicasUnavailable"),
        "Progressing": ("True", "ReplicaSetUpdated"),
    }
    assert rolling["unavailableReplicas"] == 3


def test_template_hash_is_stable_and_sensitive() -> None:
    template = {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}}
    assert template_hash(template) == template_hash(
        {"spec": template["spec"], "metadata": template["metadata"]}
    )
    assert template_hash(template) != template_hash({**template, "spec": {"containers": [{"name": "d"}]}})
    assert set(template_hash(template)) <= set("bcdfghjklmnpqrstvwxz2456789")
