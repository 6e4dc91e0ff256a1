"""Test support for ``mloop local``: run the CLI, read the state file, adopt the daemon, find its tree.

The daemonised supervisor is orphaned when ``mloop local up`` returns. Where PID 1 does not reap (as in
many containers), a finished orphan would stay a zombie that ``os.kill(pid, 0)`` still finds, so the tests
make pytest a child subreaper while a control plane runs: the supervisor is re-parented to pytest, which
reaps it after ``down`` like any parent, and the "no process left" checks see the truth.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mloop.local.supervisor import descendants

PR_SET_CHILD_SUBREAPER = 36
KUBECTL = "/usr/bin/kubectl"


def cli_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "MLOOP_LOCAL_SKIP": "", "PYTHONUNBUFFERED": "1", **extra}


def mloop(
    *args: str, timeout: float = 90, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``mloop ...`` as a user types it (the console script's ``main``), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "mloop.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
        check=False,
    )


def state(home: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((home / "state.json").read_text())
    return result


def recorded_pids(home: Path) -> set[int]:
    """The supervisor, every component, and every process below the supervisor right now."""
    data = state(home)
    pids = {c["pid"] for c in data["components"] if c.get("pid")}
    if data.get("supervisor"):
        supervisor = data["supervisor"]["pid"]
        pids |= {supervisor, *descendants(supervisor)}
    return pids


def set_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)


@contextlib.contextmanager
def adopting_orphans() -> Iterator[None]:
    set_subreaper(True)
    try:
        yield
    finally:
        set_subreaper(False)


def reap(pids: Iterable[int], timeout: float = 10.0) -> None:
    """Collect those of ``pids`` that were re-parented to us once they exit (others are not ours)."""
    pending = set(pids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pending.discard(pid)
                continue
            if done:
                pending.discard(pid)
        time.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def kill_all(pids: Iterable[int]) -> None:
    """Last-resort teardown so a failing test leaves nothing behind either."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    reap(pids, timeout=2)


class ControlPlane:
    """``mloop local up`` in ``home`` and its teardown (``down``, reap, kill whatever is still there)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.seen: set[int] = set()
        self.up_output = ""

    def up(self) -> subprocess.CompletedProcess[str]:
        result = mloop("local", "up", "--home", str(self.home))
        self.up_output = self.up_output or result.stdout
        if (self.home / "state.json").exists():
            self.seen |= recorded_pids(self.home)
        return result

    def logs(self) -> str:
        parts = []
        for log in sorted((self.home / "logs").glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def teardown(self) -> None:
        with contextlib.suppress(Exception):
            self.seen |= recorded_pids(self.home)
        mloop("local", "down", "--home", str(self.home))
        reap(self.seen, timeout=5)
        kill_all(pid for pid in self.seen if not gone(pid))
