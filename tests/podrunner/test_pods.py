"""Bare pods on the local node: volumes, deletion, finalizers, foreign images under ``Always``."""

from __future__ import annotations

from typing import Any

from .conftest import RunnerThread
from .helpers import IMAGE, Kube, alive, condition, container, eventually, job, pids_of

SLEEP = "import time; print('up', flush=True); time.sleep(600)"


def a_pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": containers, **spec},
    }


def phase(kube: Kube, name: str, wanted: str) -> Any:
    pod = kube.get("pods", name)
    return pod if pod["status"].get("phase") == wanted and pids_of(pod) else None


def test_volumes_are_directories_named_by_env(kube: Kube, runner: RunnerThread) -> None:
    kube.create("configmaps", {"metadata": {"name": "conf"}, "data": {"app.yaml": "threshold: 3\n"}})
    script = (
        "import os, pathlib; scratch = pathlib.Path(os.environ['MLOOP_MOUNT_SCRATCH']); "
        "(scratch / 'x').write_text('1'); "
        "conf = pathlib.Path(os.environ['MLOOP_MOUNT_CONFIG']) / 'app.yaml'; "
        "open(os.environ['MLOOP_TERMINATION_LOG'], 'w').write(conf.read_text().strip() + '|' + os.getcwd())"
    )
    mounts = [{"name": "scratch", "mountPath": "/scratch"}, {"name": "config", "mountPath": "/etc/app"}]
    volumes = [{"name": "scratch", "emptyDir": {}}, {"name": "config", "configMap": {"name": "conf"}}]
    body = job("vol", [container(script, volumeMounts=mounts, workingDir="/work")])
    body["spec"]["template"]["spec"]["volumes"] = volumes
    kube.create("jobs", body)
    done = eventually(lambda: condition(kube.get("jobs", "vol"), "Complete"))
    assert done["status"] == "True"
    [pod] = kube.list("pods", "job-name=vol")
    message = pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    config, cwd = message.split("|")
    assert config == "threshold: 3"
    assert cwd == str(runner.config.home / "pods" / "default" / pod["metadata"]["name"] / "main" / "work")


def test_deleting_a_running_job_stops_its_process(kube: Kube, runner: RunnerThread) -> None:
    kube.create("jobs", job("gone", [container(SLEEP)]))
    pod = eventually(lambda: [p for p in kube.list("pods", "job-name=gone") if pids_of(p)])[0]
    [pid] = pids_of(pod)
    assert alive(pid)
    kube.delete("jobs", "gone")
    eventually(lambda: not alive(pid))
    assert kube.list("pods", "job-name=gone") == []


def test_finished_job_is_deleted_after_its_ttl(kube: Kube, runner: RunnerThread) -> None:
    kube.create("jobs", job("brief", [container("pass")], ttlSecondsAfterFinished=0))
    eventually(lambda: not list(kube.session.get(kube._path("jobs")).json()["items"]))


def test_pod_with_a_finalizer_is_stopped_and_marked_terminal(kube: Kube, runner: RunnerThread) -> None:
    body = a_pod("held", [container(SLEEP)])
    body["metadata"]["finalizers"] = ["example.com/hold"]
    kube.create("pods", body)
    [pid] = pids_of(eventually(lambda: phase(kube, "held", "Running")))
    kube.delete("pods", "held")
    pod = eventually(lambda: phase(kube, "held", "Failed"))
    assert not alive(pid)
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 143  # SIGTERM
    kube.patch("pods", "held", {"metadata": {"finalizers": None}})


def test_foreign_image_under_always_waits_instead_of_failing(kube: Kube, runner: RunnerThread) -> None:
    kube.create("pods", a_pod("nginx", [{"name": "web", "image": "nginx:1.27"}]))

    def waiting() -> Any:
        pod = kube.get("pods", "nginx")
        statuses = pod["status"].get("containerStatuses") or []
        return (
            pod
            if statuses and statuses[0]["state"].get("waiting", {}).get("reason") == "ImageNotRunnableLocally"
            else None
        )

    pod = eventually(waiting)
    assert pod["status"]["phase"] == "Pending"
    assert pod["spec"]["nodeName"] == "mloop-local"


def test_always_restarts_with_backoff_and_counts(kube: Kube, runner: RunnerThread) -> None:
    kube.create("pods", a_pod("crashy", [container("import sys; print('once', flush=True); sys.exit(2)")]))

    def restarted_twice() -> Any:
        statuses = kube.get("pods", "crashy")["status"].get("containerStatuses") or []
        return statuses and statuses[0]["restartCount"] >= 2 and statuses[0]

    status = eventually(restarted_twice)
    assert status["lastState"]["terminated"]["exitCode"] == 2
    assert kube.get("pods", "crashy")["status"]["phase"] == "Running"
    assert kube.log("crashy").count("once") >= 2 or eventually(lambda: kube.log("crashy").count("once") >= 2)
    assert IMAGE in status["image"]
