"""Jobs end to end: real processes, real statuses, against the emulator."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from tests.fixtures.apiserver import ApiServerHandle

from .conftest import RunnerThread
from .helpers import Kube, condition, container, eventually, job

WRITE_MESSAGE = (
    "import os; print('training done', flush=True); "
    "open(os.environ['MLOOP_TERMINATION_LOG'], 'w').write('accuracy=0.93')"
)


def finished(kube: Kube, name: str) -> Any:
    obj = kube.get("jobs", name)
    return obj if condition(obj, "Complete") or condition(obj, "Failed") else None


def test_job_that_succeeds_completes_with_its_termination_message(
    kube: Kube, runner: RunnerThread, apiserver: ApiServerHandle
) -> None:
    kube.create("jobs", job("ok", [container(WRITE_MESSAGE)]))
    done = eventually(lambda: finished(kube, "ok"))
    assert condition(done, "Complete")["status"] == "True"
    status = done["status"]
    assert status["succeeded"] == 1
    assert status["active"] == 0
    assert status.get("failed", 0) == 0
    assert status["startTime"]
    assert status["completionTime"]
    [pod] = kube.list("pods", "job-name=ok")
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == done["metadata"]["uid"]
    assert pod["spec"]["nodeName"] == "mloop-local"
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["status"]["podIP"].startswith("127.1.")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"
    assert terminated["message"] == "accuracy=0.93"
    name = pod["metadata"]["name"]
    assert "training done" in eventually(lambda: kube.log(name))
    if shutil.which("kubectl"):
        output = subprocess.run(
            ["kubectl", "--kubeconfig", str(apiserver.kubeconfig), "logs", name],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
        assert "training done" in output


def test_failing_job_retries_to_its_backoff_limit(kube: Kube, runner: RunnerThread) -> None:
    script = "import sys; print('boom', flush=True); sys.exit(3)"
    failing = container(script, terminationMessagePolicy="FallbackToLogsOnError")
    kube.create("jobs", job("bad", [failing], backoffLimit=2))
    done = eventually(lambda: finished(kube, "bad"), timeout=20)
    failed = condition(done, "Failed")
    assert failed["status"] == "True"
    assert failed["reason"] == "BackoffLimitExceeded"
    assert done["status"]["failed"] == 3
    assert done["status"]["active"] == 0
    pods = kube.list("pods", "job-name=bad")
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Failed"
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 3
        assert terminated["reason"] == "Error"
        assert terminated["message"] == "boom"


def test_on_failure_restarts_in_place_and_counts_restarts(kube: Kube, runner: RunnerThread) -> None:
    kube.create(
        "jobs",
        job("flaky", [container("import sys; sys.exit(1)")], backoffLimit=2, restartPolicy="OnFailure"),
    )
    done = eventually(lambda: finished(kube, "flaky"), timeout=20)
    assert condition(done, "Failed")["reason"] == "BackoffLimitExceeded"
    assert done["status"]["failed"] == 1
    assert kube.list("pods", "job-name=flaky") == []  # the Job deleted its active pod


def test_unknown_image_fails_the_pod(kube: Kube, runner: RunnerThread) -> None:
    foreign = {"name": "main", "image": "docker.io/library/busybox:1.36", "command": ["true"]}
    kube.create("jobs", job("foreign", [foreign], backoffLimit=0))
    done = eventually(lambda: finished(kube, "foreign"))
    assert condition(done, "Failed")["reason"] == "BackoffLimitExceeded"
    assert done["status"]["failed"] == 1
    [pod] = kube.list("pods", "job-name=foreign")
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["reason"] == "ImageNotRunnableLocally"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["reason"] == "ImageNotRunnableLocally"
    assert "docker.io/library/busybox:1.36" in terminated["message"]


def test_env_from_secret_configmap_and_pod_ip_reach_the_process(
    kube: Kube, runner: RunnerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNNER_SECRET", "must-not-leak")  # the runner's environment stays its own
    kube.create("secrets", {"metadata": {"name": "creds"}, "stringData": {"key": "s3cr3t"}})
    kube.create("configmaps", {"metadata": {"name": "settings"}, "data": {"MODE": "fast", "LEVEL": "3"}})
    script = (
        "import os, sys; "
        "open(os.environ['MLOOP_TERMINATION_LOG'], 'w').write("
        "'|'.join([sys.argv[1], os.environ['SECRET'], os.environ['MODE'], os.environ['CFG_LEVEL'], "
        "os.environ['GREETING'], os.environ['NAME'], os.environ['APP'], "
        "os.environ.get('RUNNER_SECRET', '-'), "
        "os.environ['ESCAPED']]))"
    )
    env = [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "key"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
        {
            "name": "MISSING",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "x", "optional": True}},
        },
        {"name": "GREETING", "value": "hello-$(MODE)"},
        {"name": "ESCAPED", "value": "$$(MODE)"},
    ]
    body = job(
        "env",
        [
            container(
                script,
                "$(POD_IP)",
                env=env,
                envFrom=[{"prefix": "CFG_", "configMapRef": {"name": "settings"}}],
            )
        ],
    )
    body["spec"]["template"]["metadata"] = {"labels": {"app": "envtest"}}
    kube.create("jobs", body)
    done = eventually(lambda: finished(kube, "env"))
    assert condition(done, "Complete"), done["status"]
    [pod] = kube.list("pods", "job-name=env")
    message = pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    ip, secret, mode, level, greeting, name, app, leaked, escaped = message.split("|")
    assert ip == pod["status"]["podIP"]
    assert (secret, mode, level, greeting) == ("s3cr3t", "fast", "3", "hello-fast")
    assert (name, app, leaked, escaped) == (pod["metadata"]["name"], "envtest", "-", "$(MODE)")


def test_missing_config_key_keeps_the_pod_pending(kube: Kube, runner: RunnerThread) -> None:
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nowhere", "key": "k"}}}]
    kube.create("jobs", job("cfg", [container("pass", env=env)]))

    def waiting() -> Any:
        pods = kube.list("pods", "job-name=cfg")
        states = [s["state"] for p in pods for s in p["status"].get("containerStatuses") or []]
        return states and states[0].get("waiting", {}).get("reason") == "CreateContainerConfigError" and pods

    [pod] = eventually(waiting)
    assert pod["status"]["phase"] == "Pending"
    kube.create("configmaps", {"metadata": {"name": "nowhere"}, "data": {"k": "v"}})
    assert condition(eventually(lambda: finished(kube, "cfg")), "Complete")


@pytest.mark.parametrize("deadline", [1])
def test_active_deadline_fails_the_job(kube: Kube, runner: RunnerThread, deadline: int) -> None:
    kube.create(
        "jobs", job("slow", [container("import time; time.sleep(60)")], activeDeadlineSeconds=deadline)
    )
    done = eventually(lambda: finished(kube, "slow"))
    assert condition(done, "Failed")["reason"] == "DeadlineExceeded"
    assert done["status"]["failed"] == 1
    eventually(lambda: kube.list("pods", "job-name=slow") == [])


def test_command_that_cannot_start_is_a_start_error(kube: Kube, runner: RunnerThread) -> None:
    missing = {"name": "main", "image": "ghcr.io/mloop-io/mloop-trainer:1", "command": ["/nonexistent/tool"]}
    kube.create("jobs", job("nostart", [missing], backoffLimit=0))
    done = eventually(lambda: finished(kube, "nostart"))
    assert condition(done, "Failed")["reason"] == "BackoffLimitExceeded"
    [pod] = kube.list("pods", "job-name=nostart")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("StartError", 128)
    assert "/nonexistent/tool" in terminated["message"]
