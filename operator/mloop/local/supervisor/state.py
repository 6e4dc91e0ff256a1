"""``DIR/state.json``: what runs where, written by the supervisor, read by ``mloop local status|down``.

The ports survive ``down`` so a second ``up`` serves the same addresses (the kubeconfig users copied keeps
working); everything else describes one running tree and is cleared when it stops.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .procs import ProcessId

__all__ = ["ComponentState", "Health", "Home", "Ports", "State"]

Phase = Literal["Starting", "Ready", "Stopping", "Stopped", "Failed"]


@dataclass(frozen=True)
class Home:
    """The directory of one embedded control plane and the files in it."""

    root: Path

    @classmethod
    def at(cls, path: str | Path) -> Home:
        return cls(Path(path).expanduser().resolve())

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"


@dataclass(frozen=True)
class Ports:
    apiserver: int
    s3: int
    operator_health: int


@dataclass(frozen=True)
class Health:
    """How to tell a component is healthy: ``http`` (GET answers 200), ``tcp`` (port open), ``alive``."""

    kind: Literal["http", "tcp", "alive"]
    target: str = ""


@dataclass
class ComponentState:
    name: str
    address: str
    log: str
    health: Health
    pid: int | None = None
    start: int | None = None
    restarts: int = 0
    skipped: bool = False

    @property
    def process(self) -> ProcessId | None:
        return None if self.pid is None else ProcessId(self.pid, self.start)


@dataclass
class State:
    ports: Ports | None = None
    phase: Phase = "Stopped"
    message: str = ""
    supervisor: ProcessId | None = None
    foreground: bool = False
    components: list[ComponentState] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)

    def running(self) -> bool:
        return self.supervisor is not None and self.supervisor.alive()

    def processes(self) -> list[ProcessId]:
        """Every PID this state records: the supervisor and each component."""
        found = [c.process for c in self.components if c.process is not None]
        return ([self.supervisor] if self.supervisor else []) + found

    def stopped(self, phase: Phase = "Stopped", message: str = "") -> State:
        """The same home with nothing running: only the ports are kept."""
        return State(ports=self.ports, phase=phase, message=message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        ports = data.get("ports")
        supervisor = data.get("supervisor")
        return cls(
            ports=Ports(**ports) if ports else None,
            phase=data.get("phase", "Stopped"),
            message=data.get("message", ""),
            supervisor=ProcessId(**supervisor) if supervisor else None,
            foreground=bool(data.get("foreground", False)),
            components=[
                ComponentState(**{**c, "health": Health(**c["health"])}) for c in data.get("components") or ()
            ],
            extra=dict(data.get("extra") or {}),
        )

    @classmethod
    def load(cls, home: Home) -> State:
        """The recorded state, or an empty one when there is none (or it is unreadable)."""
        try:
            return cls.from_dict(json.loads(home.state_file.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return cls()

    def save(self, home: Home) -> None:
        """Atomic replace, so a reader never sees half a file."""
        home.root.mkdir(parents=True, exist_ok=True)
        tmp = home.state_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(home.state_file)
