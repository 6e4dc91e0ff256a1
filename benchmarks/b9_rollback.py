"""B9: how long a canary keeps getting traffic after the decision to roll it back, vs one reconcile period.

Why: a rollback is the one moment a user is waiting on mloop with a bad model serving part of the traffic.
The decision must take effect from the watch event, within one reconcile, not whenever the next periodic
resync comes round (that is the fallback when an event is lost). Goal: no traffic to the canary later than
one reconcile period (``MLOOP_RESYNC_SECONDS``) after the decision, in every round. (What it guards: before
``modeldeployment_event`` in ``controller/handlers.py``, an abort mid-canary waited for the next resync,
7.6-8.0 s here with a 10 s period, 27.5 s with 30 s; the change handler slept until the next analysis.)

Set-up (not timed), on the embedded control plane (every component a child process, ``benchmarks.plane``):
three versions from three real TrainingRuns of one project (``policy: manual`` and nobody approves, so no
version becomes champion and each passes the gate on its own: trained on the same data, a later one would
otherwise be rejected as no better than the champion). A ModelDeployment serves the first (2 replicas);
a client sends ``POST /predict`` through the Service's ClusterIP, each on a new connection, ~40 per second,
and records which version answered. The canary step is 50% for an hour with an analysis interval of an hour,
so nothing but the decision moves it.

Each round points ``versionRef`` at another version, waits until the canary answers through the Service,
then decides: the ``mloop.io/abort`` annotation (the clock starts just before the PATCH is sent). The
canary "gets no traffic" once both (a) the Service's Endpoints list none of the canary's pod addresses
and (b) the client got its last answer from the canary (confirmed by ``QUIET`` seconds of stable-only
answers after everything else). Also timed, not judged: the status showing the abort and the canary's
Deployment gone. Milestones are polled every 50 ms. Rounds alternate two canaries (an aborted version is
blocked until another one has been tried).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchResult, benchmark
from benchmarks.plane import API, NS, Plane, applicant, embedded_plane, predict
from benchmarks.support import RestError, wait_for

__all__ = ["Client", "Rollback", "b9_result", "last_canary_answer", "run_b9"]

ROUNDS = 3
RESYNC_SECONDS = 10.0  # what ``mloop local up`` runs with
RATE = 40.0
QUIET = 2.0
POLL = 0.05
MD = "b9"
GOAL = "canary gets no traffic ≤ 1 reconcile period (MLOOP_RESYNC_SECONDS) after the abort, every round"


@dataclass(frozen=True)
class Rollback:
    """One round, seconds after the decision (the abort annotation's PATCH)."""

    status: float
    deployment_gone: float
    endpoints_clear: float
    last_canary_answer: float
    answers: int
    failed: int

    @property
    def no_traffic(self) -> float:
        return max(self.endpoints_clear, self.last_canary_answer, 0.0)


@dataclass
class Client:
    """Requests through the Service in a thread: ``(monotonic time answered, version or None)``."""

    host: str
    body: bytes
    rate: float = RATE
    answers: list[tuple[float, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Client:
        self._thread = threading.Thread(target=self._run, name="b9-client", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(1.0 / self.rate):
            version = predict(self.host, self.body)
            self.answers.append((time.monotonic(), version))

    def since(self, t0: float) -> list[tuple[float, str | None]]:
        return [a for a in list(self.answers) if a[0] >= t0]


def last_canary_answer(answers: Sequence[tuple[float, str | None]], canary: str, t0: float) -> float:
    """Seconds from ``t0`` to the last answer the canary gave (0 when it gave none after ``t0``)."""
    times = [t for t, version in answers if version == canary and t >= t0]
    return max(times) - t0 if times else 0.0


def _md_status(plane: Plane) -> dict[str, Any]:
    status: dict[str, Any] = plane.rest.get(f"{API}/modeldeployments/{MD}").get("status") or {}
    return status


def _pod_ips(plane: Plane, version: str) -> set[str]:
    selector = f"mloop.io/deployment%3D{MD},mloop.io/version%3D{version}"
    pods = plane.rest.get(f"/api/v1/namespaces/{NS}/pods?labelSelector={selector}")["items"]
    return {p["status"]["podIP"] for p in pods if (p.get("status") or {}).get("podIP")}


def _endpoint_ips(plane: Plane) -> set[str]:
    body = plane.rest.get(f"/api/v1/namespaces/{NS}/endpoints/{MD}")
    return {a["ip"] for s in body.get("subsets") or [] for a in s.get("addresses") or []}


def _deployment_exists(plane: Plane, version: str) -> bool:
    try:
        plane.rest.get(f"/apis/apps/v1/namespaces/{NS}/deployments/{MD}-{version}")
    except RestError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _deployment(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "mloop.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": MD, "namespace": NS},
        "spec": {
            "projectRef": {"name": "credit"},
            "model": {"versionRef": {"name": version}},
            "replicas": 2,
            "canary": {
                "steps": [{"weight": 50, "pause": "1h"}],
                "analysis": {"interval": "1h"},
                "approval": "manual",
            },
        },
    }


def _round(plane: Plane, client: Client, canary: str, token: str) -> Rollback:
    """Start ``canary``, wait until it answers through the Service, abort it, time the way out."""
    plane.rest.merge_patch(
        f"{API}/modeldeployments/{MD}", {"spec": {"model": {"versionRef": {"name": canary}}}}
    )
    started = time.monotonic()
    wait_for(
        lambda: sum(1 for _, v in client.since(started) if v == canary) >= 5,
        timeout=60,
        what=f"{canary} answering through the Service",
    )
    canary_ips = _pod_ips(plane, canary)
    seen: dict[str, float] = {}
    t0 = time.monotonic()
    plane.rest.merge_patch(
        f"{API}/modeldeployments/{MD}", {"metadata": {"annotations": {"mloop.io/abort": token}}}
    )
    while len(seen) < 3:
        now = time.monotonic() - t0
        if now > 60:
            raise TimeoutError(f"the abort of {canary} did not complete: {seen}\n{plane.logs()}")
        if "status" not in seen and not _md_status(plane).get("canaryVersion"):
            seen["status"] = now
        if "deployment" not in seen and not _deployment_exists(plane, canary):
            seen["deployment"] = now
        if "endpoints" not in seen and not (_endpoint_ips(plane) & canary_ips):
            seen["endpoints"] = now
        time.sleep(POLL)
    deadline = time.monotonic() + 30
    while True:  # QUIET seconds of answers, none from the canary, after its last one
        time.sleep(QUIET)
        answers = client.since(t0)
        last = last_canary_answer(answers, canary, t0)
        after = [version for t, version in answers if t > t0 + last]
        if time.monotonic() - t0 - last >= QUIET and len(after) >= QUIET * RATE / 4:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{canary} still answers (or the client is stuck): {len(after)} answers since")
    return Rollback(
        status=seen["status"],
        deployment_gone=seen["deployment"],
        endpoints_clear=seen["endpoints"],
        last_canary_answer=last,
        answers=len(answers),
        failed=sum(1 for _, v in answers if v is None),
    )


def b9_result(rounds: Sequence[Rollback], resync_seconds: float) -> BenchResult:
    """Judge the worst round against the period; medians and every round in the report."""
    worst = max(r.no_traffic for r in rounds)
    measured: dict[str, tuple[float, str]] = {
        "no_traffic_after_decision_max": (worst, "s"),
        "no_traffic_after_decision_median": (statistics.median(r.no_traffic for r in rounds), "s"),
        "status_shows_abort_median": (statistics.median(r.status for r in rounds), "s"),
        "canary_deployment_gone_median": (statistics.median(r.deployment_gone for r in rounds), "s"),
        "endpoints_clear_median": (statistics.median(r.endpoints_clear for r in rounds), "s"),
        "last_canary_answer_median": (statistics.median(r.last_canary_answer for r in rounds), "s"),
        "reconcile_period": (resync_seconds, "s"),
        "requests_failed_during_rollbacks": (float(sum(r.failed for r in rounds)), "requests"),
        "requests_during_rollbacks": (float(sum(r.answers for r in rounds)), "requests"),
        "rounds": (float(len(rounds)), "rounds"),
    }
    notes = [
        "rounds (s after the abort: status / Deployment gone / Endpoints clear / last canary answer): "
        + "; ".join(
            f"{r.status:.2f}/{r.deployment_gone:.2f}/{r.endpoints_clear:.2f}/{r.last_canary_answer:.2f}"
            for r in rounds
        ),
        f"client: ~{RATE:g} requests/s through the Service, each on a new connection; "
        f"milestones polled every {POLL * 1000:g} ms",
    ]
    return BenchResult(
        id="B9",
        title="Rollback time after the decision",
        measured=measured,
        ratios={"rollback_vs_reconcile_period": worst / resync_seconds},
        goal=GOAL,
        met=worst <= resync_seconds,
        notes=notes,
    )


@benchmark("B9", "Rollback time after the decision")
def run_b9() -> BenchResult:
    """Three versions, one deployment, a client through the Service; abort a canary per round."""
    with (
        tempfile.TemporaryDirectory(prefix="mloop-b9-") as tmp,
        embedded_plane(Path(tmp), resync_seconds=RESYNC_SECONDS) as plane,
    ):
        client: Client | None = None
        try:
            plane.create_project(policy="manual")
            runs = [f"b9-{i}" for i in range(3)]
            for run in runs:
                plane.start_training(run)
            stable, *canaries = [plane.trained_version(run) for run in runs]
            plane.rest.post(f"{API}/modeldeployments", _deployment(stable))
            ip = wait_for(lambda: plane.cluster_ip(MD), timeout=30, what="the Service's ClusterIP")
            client = Client(ip, applicant(plane.features(stable))).start()
            wait_for(
                lambda: _md_status(plane).get("readyReplicas", 0) >= 2,
                timeout=60,
                what=f"{stable} serving on 2 replicas",
            )
            rounds = []
            for i in range(ROUNDS):
                rounds.append(_round(plane, client, canaries[i % len(canaries)], f"b9-abort-{i}"))
                wait_for(
                    lambda: _md_status(plane).get("readyReplicas", 0) >= 2,
                    timeout=60,
                    what="the stable back on 2 replicas",
                )
        except Exception:
            print(plane.logs(), file=sys.stderr)
            raise
        finally:
            if client is not None:
                client.stop()
    return b9_result(rounds, RESYNC_SECONDS)
