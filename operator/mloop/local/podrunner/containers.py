"""One container's life on this node: start, probe, restart with back-off, stop.

A ``ContainerRunner`` owns at most one process at a time (that is the "never two processes for one
container" guarantee, together with the pid-file check before every start) and reports each state
change through ``notify`` so the pod's status writer can coalesce them into one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from . import process
from .env import ConfigError
from .probes import ProbeTracker, probe_loop
from .status import ContainerView, Running, Terminated, Waiting, format_time

__all__ = ["ContainerRunner", "Launch", "backoff_delay", "should_restart"]

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0
STABLE_RUN = 600.0
LOST = Terminated(
    exit_code=137,
    reason="ContainerStatusUnknown",
    message="The container could not be located when the pod was terminated",
)


@dataclass(frozen=True)
class Launch:
    """Everything needed to start the process once (resolved anew before each start)."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def should_restart(restart_policy: str, exit_code: int) -> bool:
    """The kubelet's restart decision for an exited container."""
    return restart_policy == "Always" or (restart_policy == "OnFailure" and exit_code != 0)


def backoff_delay(base: float, step: int) -> float:
    """10 s, 20 s, 40 s … capped at five minutes (``base`` replaces 10 s)."""
    return float(min(base * (2**step), MAX_BACKOFF))


def _now() -> str:
    return format_time(datetime.datetime.now(datetime.UTC))


class ContainerRunner:
    """Supervises one container of one pod."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        view: ContainerView,
        *,
        restart_policy: str,
        directory: Path,
        resolve: Callable[[], Awaitable[Launch]],
        notify: Callable[[], None],
        on_exit: Callable[[], None],
        session: aiohttp.ClientSession,
        backoff_base: float,
        grace: float,
        pod_label: str,
    ) -> None:
        self.spec = spec
        self.view = view
        self.restart_policy = restart_policy
        self.directory = directory
        self.resolve = resolve
        self.notify = notify
        self.on_exit = on_exit
        self.session = session
        self.backoff_base = backoff_base
        self.grace = grace
        self.pod_label = pod_label
        self.pod_ip = ""
        self.container_id = ""
        self.stopping = asyncio.Event()
        self._unhealthy = asyncio.Event()
        self._step = 0
        self._restart_next = False

    @property
    def name(self) -> str:
        """The container's name."""
        return str(self.spec["name"])

    @property
    def log_path(self) -> Path:
        """``<pod dir>/<container>.log``."""
        return self.directory.parent / f"{self.name}.log"

    @property
    def termination_log(self) -> Path:
        """The local ``/dev/termination-log`` (``MLOOP_TERMINATION_LOG``)."""
        return self.directory / "termination-log"

    def recover(self, old: Mapping[str, Any] | None) -> bool:
        """Adopt the state a previous runner reported; False when nothing is left to run.

        A container reported running has no process here any more: it is lost, and restarts
        per policy (counted), or ends as ``ContainerStatusUnknown`` under ``Never``.
        """
        if not old:
            return True
        self.view.restart_count = int(old.get("restartCount") or 0)
        state, last = old.get("state") or {}, old.get("lastState") or {}
        if last.get("terminated"):
            self.view.last_state = _terminated(last["terminated"])
        if state.get("terminated"):
            ended = _terminated(state["terminated"])
            if not should_restart(self.restart_policy, ended.exit_code):
                self.view.state = ended
                return False
            self.view.last_state, self._restart_next = ended, True
        elif state.get("running"):
            started = state["running"].get("startedAt", "")
            lost = Terminated(LOST.exit_code, LOST.reason, started, _now(), LOST.message)
            if not should_restart(self.restart_policy, lost.exit_code):
                self.view.state = lost
                return False
            self.view.last_state, self._restart_next = lost, True
        elif state.get("waiting") and self.view.last_state is not None:
            self._restart_next = True
        return True

    async def run(self) -> None:
        """Start, watch and restart the process until it is done for good or we are stopped."""
        while not self.stopping.is_set():
            try:
                launch = await self.resolve()
            except ConfigError as exc:
                self._set(Waiting("CreateContainerConfigError", str(exc)))
                if await self._sleep(min(max(self.backoff_base, 0.5), 5.0)):
                    return
                continue
            if self.stopping.is_set():
                return
            ended = await self._run_once(launch)
            if self.stopping.is_set() or not should_restart(self.restart_policy, ended.exit_code):
                self._set(ended)
                return
            self.view.last_state = ended
            delay = backoff_delay(self.backoff_base, self._step)
            self._step += 1
            self._set(
                Waiting(
                    "CrashLoopBackOff",
                    f"back-off {delay:g}s restarting failed container={self.name} pod={self.pod_label}",
                )
            )
            if await self._sleep(delay):
                return

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        return self.stopping.is_set()

    def _set(self, state: Waiting | Running | Terminated) -> None:
        self.view.state = state
        self.notify()

    async def _run_once(self, launch: Launch) -> Terminated:
        pid_file = self.directory.parent / f"{self.name}.pid"
        await asyncio.to_thread(process.kill_recorded, pid_file)
        self.termination_log.unlink(missing_ok=True)
        if self._restart_next:
            self.view.restart_count += 1
        self._restart_next = True
        try:
            handle = await process.spawn(launch.argv, launch.env, launch.cwd, self.log_path, pid_file)
        except OSError as exc:  # no such executable, not executable, bad working dir: containerd's StartError
            now = _now()
            self.on_exit()
            return Terminated(128, "StartError", now, now, f"failed to start {launch.argv[0]!r}: {exc}")
        self.container_id = f"mloop://{handle.pid}"
        started_at = _now()
        begun = asyncio.get_running_loop().time()
        self._unhealthy.clear()
        self.view.started = "startupProbe" not in self.spec
        self.view.ready = self.view.started and "readinessProbe" not in self.spec
        self._set(Running(started_at))
        log.info("started %s/%s pid %d: %s", self.pod_label, self.name, handle.pid, launch.argv)
        probes = self._start_probes()
        exited = asyncio.ensure_future(handle.process.wait())
        waits = [
            exited,
            asyncio.ensure_future(self.stopping.wait()),
            asyncio.ensure_future(self._unhealthy.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*probes, *waits[1:]]:
                task.cancel()
        code = await process.wait(handle) if exited.done() else await process.stop(handle, self.grace)
        if asyncio.get_running_loop().time() - begun >= STABLE_RUN:
            self._step = 0
        self.view.ready = self.view.started = False
        fallback = self.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError" and code != 0
        message = process.read_termination_message(
            self.termination_log, self.log_path, handle.log_offset, fallback_to_logs=fallback
        )
        log.info("container %s/%s exited with %d", self.pod_label, self.name, code)
        self.on_exit()
        return Terminated(code, "Completed" if code == 0 else "Error", started_at, _now(), message)

    def _start_probes(self) -> list[asyncio.Task[None]]:
        tasks: list[asyncio.Task[None]] = []
        started = asyncio.Event()

        def on_startup(tracker: ProbeTracker) -> bool:
            if tracker.successes >= tracker.success_threshold:
                self.view.started = True
                self.view.ready = "readinessProbe" not in self.spec
                started.set()
                self.notify()
                return True
            if tracker.failures >= tracker.failure_threshold:
                log.info("startup probe of %s/%s failed; restarting it", self.pod_label, self.name)
                self._unhealthy.set()
                return True
            return False

        def on_ready(tracker: ProbeTracker) -> bool:
            if self.view.ready != tracker.result:
                self.view.ready = tracker.result
                self.notify()
            return False

        def on_live(tracker: ProbeTracker) -> bool:
            if not tracker.result:
                log.info("liveness probe of %s/%s failed; restarting it", self.pod_label, self.name)
                self._unhealthy.set()
                return True
            return False

        if self.spec.get("startupProbe"):
            tasks.append(self._probe(self.spec["startupProbe"], on_startup, initial=False))
        else:
            started.set()
        if self.spec.get("readinessProbe"):
            tasks.append(self._probe(self.spec["readinessProbe"], on_ready, initial=False, after=started))
        if self.spec.get("livenessProbe"):
            tasks.append(self._probe(self.spec["livenessProbe"], on_live, initial=True, after=started))
        return tasks

    def _probe(
        self,
        probe: Mapping[str, Any],
        on_result: Callable[[ProbeTracker], bool],
        *,
        initial: bool,
        after: asyncio.Event | None = None,
    ) -> asyncio.Task[None]:
        async def run() -> None:
            if after is not None:
                await after.wait()
            await probe_loop(probe, self.spec, self.pod_ip, self.session, on_result, initial=initial)

        return asyncio.ensure_future(run())


def _terminated(body: Mapping[str, Any]) -> Terminated:
    return Terminated(
        exit_code=int(body.get("exitCode", 0)),
        reason=str(body.get("reason", "")),
        started_at=str(body.get("startedAt", "")),
        finished_at=str(body.get("finishedAt", "")),
        message=str(body.get("message", "")),
    )
