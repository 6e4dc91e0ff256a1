"""The whole loop on the embedded control plane, driven as a user would, for the reliability suite.

MLProject + first TrainingRun → champion → ModelDeployment (``alias: champion``) → traffic → DriftMonitor →
drift injected → one drift TrainingRun → gate → canary steps → promoted. The objects are ``examples/`` with
the demo's speed-ups, shorter still (10 s drift windows, canary pauses of seconds), so one loop fits in two
to four minutes on two cores. Tests act while it runs through ``on_tick`` (called on every poll) or their
own thread, and check the canary step by step from every status the ModelDeployment went through, recorded
by a watch.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from mloop.demo.traffic import TrafficGenerator
from mloop.local.datasets import credit_csv
from mloop.reconcile.runs import observe_job
from mloop.reconcile.serving import serving_name
from mloop.reconcile.training import training_job_name
from tests.support.kube import Kube, KubeError
from tests.support.plane import Plane
from tests.support.s3 import upload
from tests.support.watch import Recorder

__all__ = [
    "API",
    "LOOP_PHASES",
    "LoopConfig",
    "LoopDriver",
    "Phase",
    "Snapshot",
    "check_end_state",
    "create_retrying",
    "step_sequences",
]

ROOT = Path(__file__).resolve().parents[2]
API = "mloop.io/v1alpha1"
NS = "default"
NAME = "credit"  # the project, the ModelDeployment and the DriftMonitor share it, as in examples/
FIRST_RUN = "credit-manual-1"
REPLICAS = 2
MIN_SAMPLES = 60
ROWS = 2000
#: The drifted partition is twice the first: the retrained model learns the new rules, and the sealed test
#: set (drawn from both partitions) shows the champion's loss clearly, well beyond ``minImprovement``.
DRIFTED_ROWS = 4000


@dataclass(frozen=True)
class LoopConfig:
    """The knobs that set how long each phase lasts (windows and pauses are wall-clock)."""

    canary_weights: tuple[int, ...] = (25, 50, 75)
    canary_pause: str = "8s"
    clean_windows: int = 1  # checked windows of undrifted traffic before drift is injected
    alert_windows: int = 2  # drifted windows in a row that raise the alert

    @property
    def canary_steps(self) -> list[dict[str, Any]]:
        return [{"weight": w, "pause": self.canary_pause} for w in self.canary_weights]


Phase = Literal["training", "gating", "rollout", "drift", "retraining", "canary", "done"]
#: The phases a loop must pass through (``rollout`` of the first version and ``done`` are not asked for).
LOOP_PHASES: tuple[Phase, ...] = ("training", "gating", "drift", "retraining", "canary")


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((ROOT / "examples" / name).read_text()))
    body["metadata"]["namespace"] = NS
    return body


def create_retrying(kube: Kube, body: dict[str, Any], timeout: float = 60.0) -> None:
    """Create as ``kubectl`` users do under an API storm: retry 5xx/429/409, "already exists" means done."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            kube.create(body)
            return
        except KubeError as exc:
            if exc.status == 409 and "AlreadyExists" in exc.body:
                return
            if exc.status < 409 or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@dataclass(frozen=True)
class Snapshot:
    """What the API holds at one moment, and the phase of the loop it means."""

    runs: list[dict[str, Any]]
    jobs: dict[str, dict[str, Any]]
    versions: dict[str, dict[str, Any]]
    project: dict[str, Any]
    deployment: dict[str, Any]
    monitor: dict[str, Any]

    @property
    def md_status(self) -> dict[str, Any]:
        return self.deployment.get("status") or {}

    @property
    def champion(self) -> str | None:
        return (self.project.get("status") or {}).get("champion")

    def drift_runs(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["spec"].get("trigger") == "drift"]

    def failed_runs(self) -> list[str]:
        return [r["metadata"]["name"] for r in self.runs if (r.get("status") or {}).get("phase") == "Failed"]

    def summary(self) -> dict[str, Any]:
        """The facts a failed wait should show."""
        md, dm = self.md_status, self.monitor.get("status") or {}
        return {
            "runs": {r["metadata"]["name"]: (r.get("status") or {}).get("conditions") for r in self.runs},
            "jobs": {n: (j.get("status") or {}).get("conditions") for n, j in self.jobs.items()},
            "versions": {n: (v.get("status") or {}).get("conditions") for n, v in self.versions.items()},
            "project": self.project.get("status"),
            "deployment": {k: md.get(k) for k in ("stableVersion", "canaryVersion", "step", "conditions")},
            "monitor": {k: dm.get(k) for k in ("lastCheckJob", "consecutiveDriftWindows", "lastRetrainRun")},
        }

    @property
    def phase(self) -> Phase:
        """The step the loop is in; when two overlap, the one a crash would hurt most wins."""
        if self.md_status.get("canaryVersion"):
            return "canary"
        unfinished = [r for r in self.runs if not (r.get("status") or {}).get("modelVersion")]
        for run in unfinished:
            job = self.jobs.get(training_job_name(run["metadata"]["name"]))
            if job is not None and observe_job(job, []).state == "succeeded":
                return "gating"  # trained; the result is read and the version recorded
        if any(
            (v.get("status") or {}).get("stage") not in ("champion", "rejected", "retired")
            for v in self.versions.values()
        ):
            return "gating"
        for run in unfinished:
            if (run.get("status") or {}).get("phase") != "Failed":
                return "retraining" if run["spec"].get("trigger") == "drift" else "training"
        if self.champion is None:
            return "training"
        if self.md_status.get("stableVersion") != self.champion:
            return "rollout"
        return "done" if self.drift_runs() else "drift"


@dataclass
class LoopDriver:
    """Applies the loop's objects, starts traffic once the first version serves, injects drift after a few
    clean windows, and follows the loop to the promotion of the retrained version."""

    plane: Plane
    config: LoopConfig = field(default_factory=LoopConfig)
    traffic: TrafficGenerator | None = None
    drift_injected: bool = False
    clean_windows: set[str] = field(default_factory=set)
    ready_for_drift: Callable[[], bool] = lambda: True  # the user's pace: inject drift once this holds
    timeline: list[tuple[float, Phase]] = field(default_factory=list)
    recorder: Recorder | None = None  # every status the ModelDeployment went through, from a watch

    @property
    def kube(self) -> Kube:
        return self.plane.kube

    def apply_project(self) -> None:
        """The data and the project; waits for it to be Ready so a fault storm can start after this."""
        bucket = self.plane.bucket
        upload(self.plane.s3, bucket, "datasets/credit/part-0001.csv", credit_csv(ROWS, seed=7))
        project = example("mlproject.yaml")
        project["spec"]["storage"] = {"bucket": bucket}
        project["spec"]["data"]["source"]["uri"] = f"s3://{bucket}/datasets/credit/"
        self.kube.create(project)
        self._wait(
            lambda: (self.kube.get(API, "MLProject", NAME).get("status") or {}).get("phase") == "Ready"
        )

    def apply_loop(self) -> None:
        """The first run, the deployment of the champion with a canary, and the drift monitor."""
        run = example("trainingrun.yaml")
        deployment = example("modeldeployment.yaml")
        deployment["spec"]["replicas"] = REPLICAS
        deployment["spec"]["canary"] = {
            "steps": self.config.canary_steps,
            "analysis": {"interval": "2s", "minRequests": 10, "maxErrorRate": 0.05, "failureLimit": 3},
        }
        monitor = example("driftmonitor.yaml")
        monitor["spec"]["schedule"] = {"interval": "10s"}
        monitor["spec"]["window"] = {"duration": "10s", "minSamples": MIN_SAMPLES}
        monitor["spec"]["alert"] = {"consecutiveWindows": self.config.alert_windows}
        monitor["spec"].pop("performance", None)
        self.recorder = Recorder(self.kube.url, self.kube.path(API, "ModelDeployment", NS))
        self.recorder.__enter__()  # left in ``run``, whatever happens
        for body in (run, deployment, monitor):
            create_retrying(self.kube, body)

    def observe(self, kube: Kube | None = None) -> Snapshot:
        """Read the loop's objects (through ``kube``, e.g. another thread's own client, if given)."""
        kube = kube or self.kube
        return Snapshot(
            runs=kube.list(API, "TrainingRun"),
            jobs={j["metadata"]["name"]: j for j in kube.list("batch/v1", "Job")},
            versions={v["metadata"]["name"]: v for v in kube.list(API, "ModelVersion")},
            project=kube.get(API, "MLProject", NAME),
            deployment=kube.get(API, "ModelDeployment", NAME),
            monitor=kube.get(API, "DriftMonitor", NAME),
        )

    def run(self, on_tick: Callable[[Snapshot], None] | None = None, *, timeout: float = 480.0) -> Snapshot:
        """Poll until the retrained version is promoted, acting as the user and calling ``on_tick``."""
        started = time.monotonic()
        try:
            while True:
                snap = self.observe()
                if not self.timeline or self.timeline[-1][1] != snap.phase:
                    self.timeline.append((round(time.monotonic() - started, 1), snap.phase))
                assert not snap.failed_runs(), f"runs failed: {snap.failed_runs()}"
                rejected = [
                    v for v in snap.versions.values() if (v.get("status") or {}).get("stage") == "rejected"
                ]
                assert not rejected, f"a version failed its gate: {[v['status'] for v in rejected]}"
                if self._promoted(snap):
                    return snap
                self._act(snap)
                if on_tick is not None:
                    on_tick(snap)
                if time.monotonic() - started > timeout:
                    raise AssertionError(
                        f"the loop did not finish in {timeout}s: {self.timeline}\n{snap.summary()}"
                    )
                time.sleep(0.2)
        finally:
            if self.traffic is not None:
                self.traffic.stop()
            if self.recorder is not None:
                self.recorder.__exit__(None, None, None)

    def _act(self, snap: Snapshot) -> None:
        status = snap.md_status
        if self.traffic is None and status.get("stableVersion") and status.get("readyReplicas", 0) > 0:
            service = self.kube.request("GET", f"/api/v1/namespaces/{NS}/services/{NAME}")
            inputs = snap.versions[status["stableVersion"]]["spec"]["signature"]["inputs"]
            url = f"http://{service['spec']['clusterIP']}:8080/predict"
            self.traffic = TrafficGenerator(url, [f["name"] for f in inputs], rate_per_second=25)
            self.traffic.start()
        monitor = snap.monitor.get("status") or {}
        if (monitor.get("samples") or 0) >= MIN_SAMPLES and not monitor.get("drifted"):
            self.clean_windows.add(str(monitor.get("lastCheckJob")))
        if (
            self.traffic is not None
            and not self.drift_injected
            and len(self.clean_windows) >= self.config.clean_windows
            and self.ready_for_drift()
        ):
            # Older, richer applicants whose defaults follow other rules; their labelled rows land as a new
            # partition, so the retrained model can learn them and beat the champion on the same test set.
            self.traffic.drift()
            data = credit_csv(DRIFTED_ROWS, seed=8, shift=1.0, concept=1.0)
            upload(self.plane.s3, self.plane.bucket, "datasets/credit/part-0002.csv", data)
            self.drift_injected = True

    @staticmethod
    def _promoted(snap: Snapshot) -> bool:
        drift_runs = snap.drift_runs()
        version = drift_runs and (drift_runs[0].get("status") or {}).get("modelVersion")
        status = snap.md_status
        return bool(version and status.get("stableVersion") == version and not status.get("canaryVersion"))

    @staticmethod
    def _wait(check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.2)


def step_sequences(statuses: Iterable[dict[str, Any]]) -> dict[str, list[int]]:
    """Per canary version, its steps in the order they started: one entry per (step, stepStartTime)."""
    seen: dict[str, list[tuple[int, str]]] = {}
    for status in statuses:
        canary = status.get("canaryVersion")
        if not canary or status.get("step") is None:
            continue
        key = (int(status["step"]), str(status.get("stepStartTime")))
        started = seen.setdefault(canary, [])
        if not started or started[-1] != key:
            started.append(key)
    return {version: [step for step, _ in keys] for version, keys in seen.items()}


def check_end_state(driver: LoopDriver) -> Snapshot:
    """Nothing duplicated or lost: two runs, one Job and one version each, one Deployment per version in
    use, one promotion, and the canary went through every step once, in order."""
    snap = driver.observe()
    drift_runs = snap.drift_runs()
    names = sorted(r["metadata"]["name"] for r in snap.runs)
    assert len(drift_runs) == 1, f"expected exactly one drift run: {names}"
    retrain = drift_runs[0]["metadata"]["name"]
    assert names == sorted([FIRST_RUN, retrain]), names
    made = {r["metadata"]["name"]: str((r.get("status") or {}).get("modelVersion")) for r in snap.runs}
    first, second = made[FIRST_RUN], made[retrain]

    trainer_jobs = [
        n
        for n, j in snap.jobs.items()
        if j["metadata"]["labels"].get("app.kubernetes.io/component") == "trainer"
    ]
    assert sorted(trainer_jobs) == sorted(training_job_name(n) for n in names), trainer_jobs
    pods = Counter(p["metadata"].get("labels", {}).get("job-name") for p in driver.kube.list("v1", "Pod"))
    assert all(pods[job] == 1 for job in snap.jobs), {job: pods[job] for job in snap.jobs}

    runs_of_versions = Counter(v["spec"]["trainingRunRef"]["name"] for v in snap.versions.values())
    assert runs_of_versions == Counter(names), runs_of_versions
    assert sorted(snap.versions) == sorted([first, second]) == ["credit-1", "credit-2"], sorted(snap.versions)
    stages = {n: (v.get("status") or {}).get("stage") for n, v in snap.versions.items()}
    assert stages == {first: "retired", second: "champion"}, stages
    assert snap.champion == second

    deployments = {
        d["metadata"]["name"]: d["spec"]["replicas"]
        for d in driver.kube.list("apps/v1", "Deployment")
        if d["metadata"].get("labels", {}).get("mloop.io/deployment") == NAME
    }
    assert deployments == {serving_name(NAME, first): 0, serving_name(NAME, second): REPLICAS}, deployments
    status = snap.md_status
    assert (status["stableVersion"], status.get("previousStableVersion")) == (second, first), status
    moves = [(h["action"], h.get("fromVersion"), h["toVersion"]) for h in status.get("history", [])]
    assert moves == [("promoted", first, second)], moves

    assert driver.recorder is not None
    history = [o.get("status") or {} for o in driver.recorder.objects(NAME)]
    steps = step_sequences(history)
    assert steps == {second: list(range(len(driver.config.canary_weights)))}, steps
    weights = {(s["step"], s.get("canaryWeight")) for s in history if s.get("canaryVersion")}
    assert weights == set(enumerate(driver.config.canary_weights)), weights
    assert (snap.monitor.get("status") or {}).get("lastRetrainRun") == retrain, snap.monitor.get("status")
    return snap
