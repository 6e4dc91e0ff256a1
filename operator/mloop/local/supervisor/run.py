"""The supervisor: starts the component table in order, waits for each to be healthy, restarts children
that die (with backoff), and on SIGTERM/SIGINT stops them in reverse order, leaving no process behind.

Each child runs in its own process group, so a terminal's Ctrl-C reaches only the supervisor (which then
stops the children in order) and one ``killpg`` stops a child with anything it started. On Linux the
supervisor is also a child subreaper: grandchildren orphaned by a crash are re-parented to it, and shutdown
stops whatever is still below it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

from .components import (
    ACCESS_KEY,
    ARTIFACTS_BUCKET,
    COMPONENTS,
    SECRET_KEY,
    Component,
    Context,
    choose_ports,
    missing_modules,
    skipped,
)
from .crds import apply_crds, ensure_s3_secret
from .health import check
from .procs import ProcessId, become_subreaper, descendants, group_members, reap_any, signal_group
from .state import ComponentState, Home, State

__all__ = ["StartupError", "Supervisor", "restart_delay"]

log = logging.getLogger("mloop.local.supervisor")

#: A child that ran at least this long before dying is restarted without accumulated backoff.
STABLE_SECONDS = 30.0
_TICK = 0.1


def restart_delay(failures: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff after ``failures`` quick deaths in a row (0.5 s, 1 s, 2 s … 30 s)."""
    return min(cap, base * 2 ** max(0, failures - 1)) if failures > 0 else 0.0


class StartupError(Exception):
    """A component did not come up; the message says which and why."""


@dataclass
class _Child:
    component: Component
    state: ComponentState
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    hook_pending: bool = False
    groups: set[int] = field(default_factory=set)

    def exited(self) -> bool:
        return self.proc is None


class Supervisor:
    """One control plane in ``home``; ``run()`` blocks until stopped and returns an exit code."""

    def __init__(
        self,
        home: Home,
        *,
        components: Sequence[Component] = COMPONENTS,
        api_port: int | None = None,
        foreground: bool = False,
        on_ready: Callable[[State], None] | None = None,
    ) -> None:
        self.home = home
        self.foreground = foreground
        self.on_ready = on_ready
        skip = skipped()
        previous = State.load(home)
        self.ctx = Context(home, choose_ports(previous.ports, api_port=api_port))
        self.children = [
            _Child(
                c,
                ComponentState(
                    name=c.name,
                    address=c.address(self.ctx),
                    log=str(home.log(c.name)),
                    health=c.health(self.ctx),
                    skipped=c.name in skip,
                ),
            )
            for c in components
        ]
        self.state = State(
            ports=self.ctx.ports,
            phase="Starting",
            supervisor=ProcessId.of(os.getpid()),
            foreground=foreground,
            components=[child.state for child in self.children],
            extra={
                "kubeconfig": str(home.kubeconfig),
                "s3Endpoint": f"http://{self.ctx.s3_endpoint}",
                "s3Bucket": ARTIFACTS_BUCKET,
                "s3AccessKey": ACCESS_KEY,
                "s3SecretKey": SECRET_KEY,
            },
        )
        self._stop = False

    # -- entry point ---------------------------------------------------------------------------------

    def run(self) -> int:
        self.home.logs.mkdir(parents=True, exist_ok=True)
        become_subreaper()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        self._save()
        code = 0
        try:
            self._start_all()
            self.state.phase = "Ready"
            self._save()
            log.info("control plane ready (supervisor pid %d)", os.getpid())
            if self.on_ready:
                self.on_ready(self.state)
            self._monitor()
        except StartupError as exc:
            log.error("start-up failed: %s", exc)  # noqa: TRY400 - the message is the whole story
            self.state.phase, self.state.message, code = "Failed", str(exc), 1
            self._save()
        finally:
            self._shutdown()
            final = self.state.stopped("Failed" if code else "Stopped", self.state.message)
            final.save(self.home)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self._stop = True

    def _save(self) -> None:
        self.state.save(self.home)

    # -- start-up ------------------------------------------------------------------------------------

    def _start_all(self) -> None:
        active = [child for child in self.children if not child.state.skipped]
        for child in self.children:
            if child.state.skipped:
                log.warning("%s: skipped (%s)", child.component.name, "MLOOP_LOCAL_SKIP")
        problems = missing_modules([child.component for child in active])
        if problems:
            raise StartupError("; ".join(problems))
        for child in active:
            self._spawn(child)
            self._await_healthy(child)
            self._after_healthy(child)

    def _await_healthy(self, child: _Child) -> None:
        name = child.component.name
        deadline = time.monotonic() + child.component.startup_timeout
        settle = time.monotonic() + 1.0  # "alive" components must survive their imports
        while True:
            self._reap()
            if self._stop:
                raise StartupError(f"stopped while starting {name}")
            if child.proc is None:
                raise StartupError(f"{name} exited during start-up; see {child.state.log}")
            healthy, _ = check(child.state.health, child.state.process)
            if healthy and (child.state.health.kind != "alive" or time.monotonic() >= settle):
                log.info("%s: healthy (pid %s, %s)", name, child.state.pid, child.state.address)
                return
            if time.monotonic() > deadline:
                raise StartupError(f"{name} not healthy after {child.component.startup_timeout:.0f}s")
            time.sleep(_TICK)

    def _after_healthy(self, child: _Child) -> None:
        """The API server starts empty (also after a restart): give it mloop's CRDs."""
        if child.component.name == "apiserver":
            names = apply_crds(self.ctx.api_url)
            log.info("applied %d CRDs: %s", len(names), ", ".join(names))
            ensure_s3_secret(self.ctx.api_url, ACCESS_KEY, SECRET_KEY)
        child.hook_pending = False

    # -- children ------------------------------------------------------------------------------------

    def _spawn(self, child: _Child) -> None:
        component = child.component
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **component.env(self.ctx)}
        argv = [sys.executable, "-m", component.module, *component.args(self.ctx)]
        with self.home.log(component.name).open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            out.flush()
            child.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.home.root,
                process_group=0,
            )
        child.started_at = time.monotonic()
        child.restart_at = None
        child.groups.add(child.proc.pid)
        child.state.pid, child.state.start = child.proc.pid, ProcessId.of(child.proc.pid).start
        child.hook_pending = True
        self._save()
        log.info("%s: started pid %d", component.name, child.proc.pid)

    def _reap(self) -> None:
        """Collect finished processes; a component child that died is scheduled for a restart."""
        by_pid = {child.proc.pid: child for child in self.children if child.proc is not None}
        for pid, code in reap_any():
            child = by_pid.get(pid)
            if child is None or child.proc is None:
                continue  # an orphaned grandchild handed to us as subreaper
            child.proc.returncode = code
            child.proc = None
            child.state.pid = child.state.start = None
            ran = time.monotonic() - child.started_at
            child.failures = 1 if ran >= STABLE_SECONDS else child.failures + 1
            if self._stop or self.state.phase != "Ready":
                level = logging.INFO if self._stop else logging.WARNING
                log.log(level, "%s: exited with code %d", child.component.name, code)
                continue
            delay = restart_delay(child.failures)
            child.restart_at = time.monotonic() + delay
            log.warning(
                "%s: exited with code %d after %.1fs; restarting in %.1fs",
                child.component.name,
                code,
                ran,
                delay,
            )
            self._save()

    def _monitor(self) -> None:
        while not self._stop:
            self._reap()
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None and now >= child.restart_at and not self._stop:
                    child.state.restarts += 1
                    self._spawn(child)
                elif child.hook_pending and self._healthy(child):
                    try:
                        self._after_healthy(child)
                    except (OSError, TimeoutError, ValueError) as exc:
                        log.warning("%s: post-start step failed (%s); retrying", child.component.name, exc)
            time.sleep(_TICK)

    @staticmethod
    def _healthy(child: _Child) -> bool:
        return child.proc is not None and check(child.state.health, child.state.process)[0]

    # -- shutdown ------------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Reverse order, SIGTERM then SIGKILL per child; then anything left below us or in their groups."""
        self._stop = True
        self.state.phase = "Stopping"
        self._save()
        for child in reversed(self.children):
            if child.proc is None:
                continue
            name, pid = child.component.name, child.proc.pid
            signal_group(pid, signal.SIGTERM)
            if not self._wait(child.exited, child.component.stop_timeout):
                log.warning("%s: no exit %ss after SIGTERM; SIGKILL", name, child.component.stop_timeout)
                signal_group(pid, signal.SIGKILL)
                self._wait(child.exited, 5.0)
            log.info("%s: stopped", name)
        leftovers = set(descendants(os.getpid()))
        for child in self.children:
            for group in child.groups:
                leftovers.update(group_members(group))
        leftovers.discard(os.getpid())
        if leftovers:
            log.warning("stopping %d leftover processes: %s", len(leftovers), sorted(leftovers))
            for group in self._groups():
                signal_group(group, signal.SIGKILL)
            for pid in leftovers:
                _kill(pid)
            self._wait(lambda: not any(ProcessId(p).alive() for p in leftovers), 5.0)
        self._reap()

    def _groups(self) -> set[int]:
        return {group for child in self.children for group in child.groups}

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self._reap()
            if done():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
