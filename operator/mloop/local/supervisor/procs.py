"""Process facts from ``/proc`` and the few signals the supervisor sends.

PIDs recorded in a state file can outlive their process and be reused, so every PID is kept with its start
time (``/proc/<pid>/stat`` field 22) and a process counts as ours only while both match. A zombie counts as
gone: it runs nothing, and in a container whose PID 1 does not reap, a finished daemon stays a zombie.
Without ``/proc`` (macOS) the checks fall back to ``kill(pid, 0)`` and trees are not walked.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessId",
    "become_subreaper",
    "descendants",
    "free_port",
    "group_members",
    "pid_alive",
    "port_free",
    "reap_any",
    "signal_group",
    "start_time",
]

_PROC = Path("/proc")
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class ProcessId:
    """A PID and its start time (None when unknown): a process identity that survives PID reuse."""

    pid: int
    start: int | None = None

    @classmethod
    def of(cls, pid: int) -> ProcessId:
        return cls(pid, start_time(pid))

    def alive(self) -> bool:
        return pid_alive(self.pid, self.start)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3… of ``/proc/<pid>/stat`` (after the parenthesised command, which may hold spaces)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def pid_alive(pid: int, start: int | None = None) -> bool:
    """Running (not a zombie) and, when ``start`` is given, the same process that was recorded."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    if fields is None:
        return not _PROC.is_dir()
    if fields[0] in ("Z", "X"):
        return False
    return start is None or int(fields[19]) == start


def _table() -> list[tuple[int, int, int]]:
    """(pid, ppid, pgrp) of every live process."""
    rows: list[tuple[int, int, int]] = []
    if not _PROC.is_dir():
        return rows
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] not in ("Z", "X"):
                rows.append((int(entry.name), int(fields[1]), int(fields[2])))
    return rows


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first)."""
    children: dict[int, list[int]] = {}
    for child, parent, _ in _table():
        children.setdefault(parent, []).append(child)
    found, queue = [], list(children.get(pid, ()))
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(children.get(current, ()))
    return found


def group_members(pgid: int) -> list[int]:
    return [pid for pid, _, group in _table() if group == pgid]


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a whole process group; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def reap_any() -> list[tuple[int, int]]:
    """Collect every finished child (direct ones and orphans handed to us as subreaper): (pid, status)."""
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, os.waitstatus_to_exitcode(status)))


def become_subreaper() -> bool:
    """Linux: orphans of our children (a pod runner's pods, say) are re-parented to us, so nothing escapes
    the tree and ``down`` can find and stop them. Elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nobody listens there (SO_REUSEADDR: connections in TIME_WAIT from our last run do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
