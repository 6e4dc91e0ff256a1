"""``mloop local up|down|status``: the embedded control plane (SPEC §5) as one supervised process tree.

``up`` starts ``python -m mloop.local.supervisor`` as a daemon in its own session and returns once every
component is healthy (``--foreground`` runs the supervisor in this process instead; Ctrl-C stops it).
``down`` sends the supervisor SIGTERM and returns only when every process it recorded, and every process
that was below it, is gone. ``status`` checks each component's health; non-zero when anything is not.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from mloop.local.supervisor import Home, ProcessId, State, Supervisor, check, descendants
from mloop.local.supervisor.procs import signal_group

from .table import render_table

__all__ = ["DEFAULT_HOME", "register"]

DEFAULT_HOME = "~/.mloop/local"
EPILOG = """\
what runs (in this order, on loopback only; logs in DIR/logs/<component>.log):
  apiserver  Kubernetes API emulator; port kept in DIR/state.json (6443 when free); DIR/kubeconfig
  s3         moto S3 server with the bucket mloop-artifacts (credentials testing/testing)
  podrunner  runs Pods of Jobs and Deployments as local processes; pod IPs from 127.1.0.0/16
  services   ClusterIPs from 127.2.0.0/16, one proxy listener per Service port, Endpoints
  operator   the mloop operator
Host ports for users: a Service of type NodePort is also served on 127.0.0.1:<nodePort>
(allocated from 30000-32767 when not set), e.g.
  kubectl patch svc NAME -p '{"spec":{"type":"NodePort"}}'; kubectl get svc NAME
Debugging: MLOOP_LOCAL_SKIP=podrunner,services leaves components out (run them by hand instead).
"""
NOT_RUNNING = 3


def register(subparsers: Any) -> None:
    local = subparsers.add_parser(
        "local",
        help="run the embedded control plane on this machine",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = local.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start the control plane (returns once it is ready)")
    up.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops everything")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for readiness")
    up.add_argument("--api-port", type=int, default=None, help="API server port (default: kept, or 6443)")
    up.set_defaults(func=cmd_up)
    down = actions.add_parser("down", help="stop the control plane and every process it started")
    down.add_argument("--timeout", type=float, default=90.0, help="seconds before stragglers are killed")
    down.set_defaults(func=cmd_down)
    status = actions.add_parser("status", help="what runs where, and whether it is healthy")
    status.set_defaults(func=cmd_status)
    for parser in (up, down, status):
        parser.add_argument("--home", default=DEFAULT_HOME, help=f"state directory (default {DEFAULT_HOME})")


class _Lock:
    """An exclusive ``flock`` on ``DIR/.lock`` so two ``up``s cannot both start a supervisor."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = path.open("ab")
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


# -- up --------------------------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    home = Home.at(args.home)
    home.logs.mkdir(parents=True, exist_ok=True)
    lock = _Lock(home.lock_file)
    try:
        state = State.load(home)
        if state.running():
            assert state.supervisor is not None
            print(f"mloop local is already running (supervisor pid {state.supervisor.pid}, home {home.root})")
            print(describe(home, state))
            return 0
        _clean_stale(home, state)
        if args.foreground:
            return _foreground(home, args, lock)
        return _daemon(home, args)
    finally:
        lock.release()


def _daemon(home: Home, args: argparse.Namespace) -> int:
    argv = [sys.executable, "-m", "mloop.local.supervisor", "--home", str(home.root)]
    if args.api_port:
        argv += ["--api-port", str(args.api_port)]
    with home.log("supervisor").open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=home.root,
            start_new_session=True,
        )
    print(f"starting mloop local in {home.root} (supervisor pid {proc.pid}) …", flush=True)
    deadline = time.monotonic() + args.timeout
    while True:
        state = State.load(home)
        mine = state.supervisor is not None and state.supervisor.pid == proc.pid
        if mine and state.phase == "Ready":
            print(describe(home, state))
            return 0
        code = proc.poll()
        if code is not None:
            message = State.load(home).message or f"supervisor exited with code {code}"
            print(f"mloop local up failed: {message}", file=sys.stderr)
            print(_tail(home.log("supervisor")), file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"mloop local up: not ready after {args.timeout:.0f}s; stopping", file=sys.stderr)
            print(_tail(home.log("supervisor")), file=sys.stderr)
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            return 1
        time.sleep(0.1)


def _foreground(home: Home, args: argparse.Namespace, lock: _Lock) -> int:
    handler = logging.FileHandler(home.log("supervisor"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    root.addHandler(console)

    def on_ready(state: State) -> None:
        lock.release()
        print(describe(home, state))
        print("\nRunning in the foreground: Ctrl-C stops everything.", flush=True)

    print(f"starting mloop local in {home.root} (foreground, pid {os.getpid()}) …", flush=True)
    code = Supervisor(home, api_port=args.api_port, foreground=True, on_ready=on_ready).run()
    final = State.load(home)
    print(f"mloop local {'failed: ' + final.message if code else 'stopped'}", flush=True)
    return code


# -- down ------------------------------------------------------------------------------------------------


def cmd_down(args: argparse.Namespace) -> int:
    home = Home.at(args.home)
    state = State.load(home)
    if not state.running() or state.supervisor is None:
        cleaned = _clean_stale(home, state)
        print(f"mloop local is not running (home {home.root}){'; ' + cleaned if cleaned else ''}")
        return 0
    supervisor = state.supervisor
    tree = {ProcessId.of(pid) for pid in descendants(supervisor.pid)}
    recorded = set(state.processes()) | tree
    groups = {c.pid for c in state.components if c.pid}
    print(f"stopping mloop local (supervisor pid {supervisor.pid}, {len(recorded)} processes) …", flush=True)
    os.kill(supervisor.pid, signal.SIGTERM)
    if not _wait_gone([supervisor], args.timeout):
        print(f"supervisor still running after {args.timeout:.0f}s; killing it", file=sys.stderr)
        os.kill(supervisor.pid, signal.SIGKILL)
    survivors = [p for p in recorded if p.alive()]
    if survivors:
        print(
            f"killing {len(survivors)} leftover processes: {sorted(p.pid for p in survivors)}",
            file=sys.stderr,
        )
        for group in groups:
            signal_group(group, signal.SIGKILL)
        for process in survivors:
            _kill(process.pid)
    if not _wait_gone(sorted(recorded, key=lambda p: p.pid), 10.0):
        left = sorted(p.pid for p in recorded if p.alive())
        print(f"mloop local down: processes still running: {left}", file=sys.stderr)
        return 1
    final = State.load(home)
    if final.processes():
        final.stopped().save(home)
    print(f"mloop local stopped; all {len(recorded)} processes are gone")
    return 0


def _wait_gone(processes: list[ProcessId], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(p.alive() for p in processes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def _clean_stale(home: Home, state: State) -> str:
    """A state file whose supervisor is gone: stop any component it left behind, keep only the ports."""
    if not state.processes():
        return ""
    left = [c for c in state.components if c.process is not None and c.process.alive()]
    for component in left:
        assert component.pid is not None
        signal_group(component.pid, signal.SIGKILL)
    _wait_gone([c.process for c in left if c.process is not None], 10.0)
    state.stopped().save(home)
    extra = f", stopped {len(left)} orphaned components" if left else ""
    return f"cleaned up a stale state file (supervisor gone{extra})"


# -- status ----------------------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    home = Home.at(args.home)
    state = State.load(home)
    if not state.running() or state.supervisor is None:
        cleaned = _clean_stale(home, state)
        note = f" ({cleaned})" if cleaned else ""
        last = f"; last phase {state.phase}: {state.message}" if state.message else ""
        print(f"mloop local is not running (home {home.root}){last}{note}")
        return NOT_RUNNING
    print(f"mloop local: {state.phase} (supervisor pid {state.supervisor.pid}, home {home.root})")
    print(describe(home, state))
    healthy = state.phase == "Ready" and all(
        c.skipped or check(c.health, c.process)[0] for c in state.components
    )
    return 0 if healthy else 1


def describe(home: Home, state: State) -> str:
    """The component table, then how to use what runs."""
    rows: list[list[object]] = []
    for component in state.components:
        if component.skipped:
            rows.append([component.name, "", component.address, "skipped", "", ""])
            continue
        _, word = check(component.health, component.process)
        rows.append(
            [component.name, component.pid, component.address, word, component.restarts, component.log]
        )
    table = render_table(["COMPONENT", "PID", "ADDRESS", "HEALTH", "RESTARTS", "LOG"], rows)
    extra = state.extra
    kubeconfig = extra.get("kubeconfig", str(home.kubeconfig))
    return "\n".join(
        [
            table,
            "",
            f"kubeconfig: {kubeconfig}",
            f"  export KUBECONFIG={kubeconfig}",
            f"S3: {extra.get('s3Endpoint', '-')}  bucket {extra.get('s3Bucket', '-')}  "
            f"access key {extra.get('s3AccessKey', '-')}  secret key {extra.get('s3SecretKey', '-')}",
            f"logs: {home.logs}/   stop with: mloop local down --home {home.root}",
        ]
    )


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
