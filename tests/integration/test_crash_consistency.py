"""The whole loop survives an operator that is SIGKILLed at 50+ seeded random points.

Training, gating, drift checks, retraining and every canary step all see kills; each time the operator is
restarted and must pick up from what the API holds. The end state equals a clean run's: no duplicated or lost
TrainingRun, Job, ModelVersion or Deployment, one promotion, and no canary step skipped or repeated.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from mloop.reconcile.runs import observe_job
from mloop.reconcile.training import training_job_name
from tests.support.kube import Kube, KubeError, wait_for
from tests.support.loop import LOOP_PHASES, LoopConfig, LoopDriver, Phase, Snapshot, check_end_state
from tests.support.plane import Plane

pytestmark = pytest.mark.integration
SEED = 20_240_607
MIN_KILLS = 50
PAUSE = (0.2, 1.6)  # seconds the restarted operator gets, once healthy, before the next kill
#: Kills before the user injects drift. The loop's only user-paced step waits for them, so the count does not
#: hang on how fast this machine restarts the operator; what follows adds ~25 more (drifted windows,
#: retraining, gating and five canary steps of 10 s).
KILLS_BEFORE_DRIFT = 32


class Killer(threading.Thread):
    """SIGKILLs the operator at random moments and restarts it, recording the phase each kill landed in.

    The phase is read from the API right after the kill, when the dead operator can no longer change it.
    Between kills the restarted operator gets ``uniform(*PAUSE)`` seconds once healthy, enough to make
    progress. Gating takes well under a second, so two rules make kills land inside it: the operator's create
    of a ModelVersion (in the emulator's request log) arms a kill within ``uniform(0, 0.08)`` s; and every
    kill after the first in a training phase keeps the operator down until the training Job has finished (an
    outage across the end of training), so the restarted operator does all of the gating under fire.
    """

    def __init__(self, driver: LoopDriver, seed: int) -> None:
        super().__init__(name="killer", daemon=True)
        self.driver = driver
        self.kube = Kube(driver.plane.apiserver.url)  # its own connections: the driver polls meanwhile
        self.rng = random.Random(seed)
        self.kills: list[Phase] = []
        self.outages = 0
        self.restarts: list[float] = []
        self.error: BaseException | None = None
        self._seen = 0
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            next_at = time.monotonic() + self.rng.uniform(*PAUSE)
            while not self._halt.is_set():
                if self._gating_started():
                    next_at = min(next_at, time.monotonic() + self.rng.uniform(0.0, 0.08))
                if time.monotonic() >= next_at:
                    pause = self._kill_and_restart()
                    next_at = time.monotonic() + pause
                self._halt.wait(0.02)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def stop(self) -> None:
        self._halt.set()
        self.join(120)

    def _gating_started(self) -> bool:
        log = self.driver.plane.apiserver.server.request_log
        new, self._seen = log[self._seen :], len(log)
        return any(r.verb == "create" and r.resource == "modelversions" for r in new)

    def _kill_and_restart(self) -> float:
        """One kill; returns the pause before the next one."""
        operator = self.driver.plane.operator
        operator.kill()
        self._gating_started()  # the dead operator's requests are no trigger; the restarted one's are
        snap = self.driver.observe(self.kube)
        phase = snap.phase
        if phase in ("training", "retraining") and self.kills[-1:] == [phase]:
            self.outages += 1
            wait_for(lambda: self._training_over(snap), timeout=300, interval=0.3, what="the Job finished")
        self.kills.append(phase)
        begun = time.monotonic()
        operator.start(timeout=60)
        self.restarts.append(time.monotonic() - begun)
        gating = self.driver.observe(self.kube).phase == "gating"
        return self.rng.uniform(0.0, 0.5) if gating else self.rng.uniform(*PAUSE)

    def _training_over(self, snap: Snapshot) -> bool:
        for run in snap.runs:
            if (run.get("status") or {}).get("modelVersion"):
                continue
            try:
                job = self.kube.get("batch/v1", "Job", training_job_name(run["metadata"]["name"]))
            except KubeError:  # not created yet: with the operator down, it never will be
                return True
            if observe_job(job, []).state not in ("succeeded", "failed"):
                return False
        return True


@pytest.mark.timeout(600)
def test_the_loop_survives_sigkill_at_fifty_random_points(plane: Plane) -> None:
    # Longer than a clean run needs, so the kills spread over every phase: at least two clean windows before
    # drift, three drifted ones for the alert, and five canary steps of 10 s.
    driver = LoopDriver(plane, LoopConfig((20, 35, 50, 65, 80), "10s", clean_windows=2, alert_windows=3))
    killer = Killer(driver, SEED)
    driver.ready_for_drift = lambda: len(killer.kills) >= KILLS_BEFORE_DRIFT
    driver.apply_project()
    driver.apply_loop()
    started = time.monotonic()
    killer.start()
    try:
        driver.run(timeout=540)
    finally:
        killer.stop()
        restarts = killer.restarts or [0.0]
        print(
            f"\n{len(killer.kills)} kills in {time.monotonic() - started:.0f}s, {killer.outages} outages, "
            f"restart {sum(restarts) / len(restarts):.1f}s (max {max(restarts):.1f}s): "
            f"{dict(Counter(killer.kills))}\ntimeline: {driver.timeline}"
        )
    assert killer.error is None, killer.error
    by_phase = Counter(killer.kills)
    assert len(killer.kills) >= MIN_KILLS, (by_phase, driver.timeline)
    assert all(by_phase[phase] > 0 for phase in LOOP_PHASES), (by_phase, driver.timeline)
    check_end_state(driver)
