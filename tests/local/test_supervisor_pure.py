"""Table tests of the supervisor's and CLI's pure parts: ports, backoff, skip list, state file, table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mloop.cli.__main__ import build_parser
from mloop.cli.table import render_table
from mloop.local.supervisor import COMPONENTS, Component, Health, Home, Ports, ProcessId, State
from mloop.local.supervisor.components import choose_ports, missing_modules, skipped
from mloop.local.supervisor.procs import descendants, pid_alive
from mloop.local.supervisor.run import restart_delay
from mloop.local.supervisor.state import ComponentState


@pytest.mark.parametrize(
    ("previous", "busy", "api_port", "expected"),
    [
        (None, set(), None, Ports(6443, 50000, 50001)),  # first up: 6443 and free ports
        (None, {6443}, None, Ports(50000, 50001, 50002)),  # 6443 taken: a free port
        (Ports(7000, 7001, 7002), set(), None, Ports(7000, 7001, 7002)),  # kept across up/down
        (Ports(7000, 7001, 7002), {7000}, None, Ports(6443, 7001, 7002)),  # kept one now taken
        (Ports(7000, 7001, 7002), set(), 8443, Ports(8443, 7001, 7002)),  # explicit --api-port
    ],
)
def test_choose_ports(previous: Ports | None, busy: set[int], api_port: int | None, expected: Ports) -> None:
    fresh = iter(range(50000, 50010))
    ports = choose_ports(
        previous, is_free=lambda p: p not in busy, pick_free=lambda: next(fresh), api_port=api_port
    )
    assert ports == expected


@pytest.mark.parametrize(
    ("failures", "delay"), [(0, 0.0), (1, 0.5), (2, 1.0), (4, 4.0), (7, 30.0), (50, 30.0)]
)
def test_restart_delay_backs_off_to_a_cap(failures: int, delay: float) -> None:
    assert restart_delay(failures) == delay


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", set()), ("podrunner", {"podrunner"}), (" podrunner, services ,", {"podrunner", "services"})],
)
def test_skip_list(raw: str, expected: set[str]) -> None:
    assert skipped({"MLOOP_LOCAL_SKIP": raw}) == expected


def test_component_table_order_and_missing_module_message() -> None:
    assert [c.name for c in COMPONENTS] == ["apiserver", "s3", "podrunner", "services", "operator"]
    ghost = Component(
        name="ghost",
        module="mloop.local.no_such_thing",
        args=lambda ctx: [],
        health=lambda ctx: Health("alive"),
        address=lambda ctx: "-",
    )
    assert missing_modules([*COMPONENTS[:2], ghost]) == [
        "component 'ghost' needs the module mloop.local.no_such_thing, which is not installed "
        "(set MLOOP_LOCAL_SKIP=ghost to start without it)"
    ]


def test_state_round_trip_and_stopped_keeps_only_ports(tmp_path: Path) -> None:
    home = Home.at(tmp_path)
    state = State(
        ports=Ports(1, 2, 3),
        phase="Ready",
        supervisor=ProcessId(os.getpid(), 123),
        components=[
            ComponentState(
                "apiserver", "http://x", "/l", Health("http", "http://x/h"), pid=5, start=9, restarts=2
            )
        ],
        extra={"kubeconfig": "/k"},
    )
    state.save(home)
    assert State.load(home) == state
    assert [p.pid for p in state.processes()] == [os.getpid(), 5]
    assert State.load(Home.at(tmp_path / "nothing")) == State()
    assert state.stopped() == State(ports=Ports(1, 2, 3))


def test_process_identity_survives_pid_reuse() -> None:
    me = ProcessId.of(os.getpid())
    assert me.alive()
    assert not ProcessId(os.getpid(), (me.start or 0) + 1).alive()  # same PID, another start time
    assert not pid_alive(0)
    assert os.getpid() not in descendants(os.getpid())


def test_render_table_aligns_and_dashes_empty_cells() -> None:
    assert render_table(["A", "LONGER"], [["x", None], ["yyyy", 3]]) == "A     LONGER\nx     -\nyyyy  3"


def test_cli_has_local_up_down_status() -> None:
    parser = build_parser()
    args = parser.parse_args(["local", "up", "--home", "/h", "--foreground"])
    assert (args.action, args.home, args.foreground) == ("up", "/h", True)
    assert parser.parse_args(["local", "status"]).home == "~/.mloop/local"
    with pytest.raises(SystemExit):
        parser.parse_args(["local"])
