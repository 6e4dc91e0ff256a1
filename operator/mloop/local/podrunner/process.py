"""Local processes standing in for containers: spawn, stop, logs, termination messages.

Each process gets its own session (so a signal to the process group reaches everything it forked,
as a container's cgroup would), writes stdout and stderr straight into the container's log file
(the log survives the runner), and is recorded in a pid file with its kernel start time. A runner
that was killed finds those files on start and kills what is left, which is how it guarantees
that no container ever runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessHandle",
    "kill_leftovers",
    "kill_recorded",
    "read_termination_message",
    "spawn",
    "stop",
    "tail_text",
    "wait",
]

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
FALLBACK_LINES = 80
FALLBACK_BYTES = 2048


@dataclass
class ProcessHandle:
    """A running container process."""

    process: asyncio.subprocess.Process
    pid_file: Path
    log_path: Path
    log_offset: int

    @property
    def pid(self) -> int:
        """The process id (also its process group id)."""
        return self.process.pid


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against pid reuse); None if unknown or gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


async def spawn(
    argv: list[str], env: dict[str, str], cwd: Path, log_path: Path, pid_file: Path
) -> ProcessHandle:
    """Start ``argv`` in its own session with output appended to ``log_path``."""
    os.makedirs(log_path.parent, exist_ok=True)
    os.makedirs(cwd, exist_ok=True)
    with log_path.open("ab") as sink:
        offset = sink.tell()
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(cwd),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    record = {"pid": process.pid, "start": _start_time(process.pid), "argv": argv[:3]}
    pid_file.write_text(json.dumps(record))  # noqa: ASYNC240 - a few bytes on local disk
    return ProcessHandle(process=process, pid_file=pid_file, log_path=log_path, log_offset=offset)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _exit_code(returncode: int) -> int:
    """Container runtimes report death by signal N as 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


async def wait(handle: ProcessHandle) -> int:
    """Wait for the process to end; kill what it left in its group; forget the pid file."""
    code = await handle.process.wait()
    _killpg(handle.pid, signal.SIGKILL)
    handle.pid_file.unlink(missing_ok=True)
    return _exit_code(code)


async def stop(handle: ProcessHandle, grace: float) -> int:
    """SIGTERM to the group, SIGKILL after ``grace`` seconds; returns the exit code."""
    if handle.process.returncode is None:
        _killpg(handle.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(handle.process.wait()), grace)
        except TimeoutError:
            _killpg(handle.pid, signal.SIGKILL)
    return await wait(handle)


def kill_recorded(pid_file: Path) -> bool:
    """Kill the process group a pid file names, if that very process still lives; remove the file."""
    try:
        record = json.loads(pid_file.read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        pid_file.unlink(missing_ok=True)
        return False
    alive = record.get("start") is not None and _start_time(pid) == record.get("start")
    if alive:
        log.info("killing leftover process group %d (%s)", pid, pid_file)
        _killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 2
        while _start_time(pid) == record.get("start") and time.monotonic() < deadline:
            time.sleep(0.01)  # until the kernel has reaped it or it is a zombie of init
            if _zombie(pid):
                break
    pid_file.unlink(missing_ok=True)
    return alive


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def kill_leftovers(home: Path) -> int:
    """Kill every container process a previous runner on ``home`` left behind; how many were alive."""
    return sum(kill_recorded(path) for path in sorted((home / "pods").glob("*/*/*.pid")))


def tail_text(path: Path, max_bytes: int, offset: int = 0) -> str:
    """The last ``max_bytes`` of a file from ``offset`` on, decoded leniently ('' if missing)."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(offset, size - max_bytes)
            handle.seek(start)
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def read_termination_message(
    message_file: Path, log_path: Path, log_offset: int, *, fallback_to_logs: bool
) -> str:
    """The termination message: the file's first 4096 bytes, else (if asked) the log's tail."""
    try:
        data = message_file.read_bytes()[:MESSAGE_LIMIT]
    except OSError:
        data = b""
    text = data.decode("utf-8", errors="replace").strip()
    if text or not fallback_to_logs:
        return text
    tail = tail_text(log_path, 64 * 1024, log_offset)
    lines = "".join(tail.splitlines(keepends=True)[-FALLBACK_LINES:])
    return lines.encode()[-FALLBACK_BYTES:].decode("utf-8", errors="ignore").strip()
