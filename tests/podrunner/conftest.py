"""Fixtures of the pod runner tests: a JSON client for the emulator and a runner in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mloop.local.podrunner import PodRunner, RunnerConfig
from tests.fixtures.apiserver import ApiServerHandle

from .helpers import Kube


class RunnerThread:
    """A ``PodRunner`` on its own event loop in a background thread (stopped like SIGTERM would)."""

    def __init__(self, config: RunnerConfig) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="podrunner", daemon=True)
        self.started = threading.Event()
        self.error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.stop_event = asyncio.Event()
            runner = PodRunner(self.config)
            self.started.set()
            await runner.run(self.stop_event)

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc
        finally:
            self.loop.close()

    def start(self) -> RunnerThread:
        self.thread.start()
        assert self.started.wait(10)
        return self

    def stop(self) -> None:
        if self.stop_event is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(40)
        assert not self.thread.is_alive(), "runner did not stop"
        if self.error is not None:
            raise self.error


def runner_config(apiserver: ApiServerHandle, home: Path) -> RunnerConfig:
    """Fast settings for tests: 0.2 s restart back-off, 5 s grace cap, frequent log pushes."""
    return RunnerConfig(
        kubeconfig=apiserver.kubeconfig,
        home=home,
        restart_backoff_base=0.2,
        max_grace=5.0,
        log_interval=0.3,
    )


@pytest.fixture
def kube(apiserver: ApiServerHandle) -> Kube:
    """A small JSON client for the emulator."""
    return Kube(apiserver.url)


@pytest.fixture
def runner(apiserver: ApiServerHandle, tmp_path: Path) -> Iterator[RunnerThread]:
    """A pod runner in this process, stopped (with all its processes) at teardown."""
    handle = RunnerThread(runner_config(apiserver, tmp_path / "home")).start()
    yield handle
    handle.stop()
