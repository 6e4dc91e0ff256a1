"""The supervisor of the embedded control plane: one process tree started by ``mloop local up``.

``python -m mloop.local.supervisor --home DIR`` runs it in the foreground; the CLI starts it as a daemon.
"""

from .components import ARTIFACTS_BUCKET, COMPONENTS, SKIP_ENV, Component, Context, choose_ports
from .health import check
from .procs import ProcessId, descendants, pid_alive
from .run import StartupError, Supervisor, restart_delay
from .state import ComponentState, Health, Home, Ports, State

__all__ = [
    "ARTIFACTS_BUCKET",
    "COMPONENTS",
    "SKIP_ENV",
    "Component",
    "ComponentState",
    "Context",
    "Health",
    "Home",
    "Ports",
    "ProcessId",
    "StartupError",
    "State",
    "Supervisor",
    "check",
    "choose_ports",
    "descendants",
    "pid_alive",
    "restart_delay",
]
