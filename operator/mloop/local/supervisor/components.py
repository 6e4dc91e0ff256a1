"""The component table: what the supervisor starts, in order, and how it knows each is healthy.

Change the embedded control plane here (add a component, change arguments): the supervisor, ``status`` and
the printed table follow. ``MLOOP_LOCAL_SKIP=podrunner,services`` leaves components out, a debugging switch
(for example to run one of them by hand in a debugger against the same kubeconfig).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mloop.local.services.allocator import CLUSTER_IP_RANGE

from .crds import LOCAL_S3_SECRET
from .procs import free_port, port_free
from .state import Health, Home, Ports

__all__ = [
    "ACCESS_KEY",
    "ARTIFACTS_BUCKET",
    "COMPONENTS",
    "DEFAULT_API_PORT",
    "SECRET_KEY",
    "SKIP_ENV",
    "Component",
    "Context",
    "choose_ports",
    "missing_modules",
    "skipped",
]

ARTIFACTS_BUCKET = "mloop-artifacts"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # noqa: S105 - moto ignores credentials; this is its conventional fake
DEFAULT_API_PORT = 6443
SKIP_ENV = "MLOOP_LOCAL_SKIP"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Context:
    home: Home
    ports: Ports

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.ports.apiserver}"

    @property
    def s3_endpoint(self) -> str:
        return f"{HOST}:{self.ports.s3}"


@dataclass(frozen=True)
class Component:
    """One child: ``python -m <module> <args>`` with extra environment, a health check and an address."""

    name: str
    module: str
    args: Callable[[Context], list[str]]
    health: Callable[[Context], Health]
    address: Callable[[Context], str]
    env: Callable[[Context], dict[str, str]] = field(default=lambda ctx: {})
    #: How long start-up may take before ``up`` gives up.
    startup_timeout: float = 30.0
    #: How long a SIGTERM may take before SIGKILL (the pod runner first stops every pod gracefully).
    stop_timeout: float = 10.0


def _operator_env(ctx: Context) -> dict[str, str]:
    return {
        "KUBECONFIG": str(ctx.home.kubeconfig),
        "MLOOP_S3_ENDPOINT": ctx.s3_endpoint,
        "MLOOP_S3_ACCESS_KEY": ACCESS_KEY,
        "MLOOP_S3_SECRET_KEY": SECRET_KEY,
        "MLOOP_HEALTH_HOST": HOST,
        "MLOOP_HEALTH_PORT": str(ctx.ports.operator_health),
        "MLOOP_S3_DEFAULT_SECRET": LOCAL_S3_SECRET,
        "MLOOP_RESYNC_SECONDS": "10",
    }


COMPONENTS: tuple[Component, ...] = (
    Component(
        name="apiserver",
        module="mloop.local.apiserver",
        args=lambda ctx: [
            *("--host", HOST, "--port", str(ctx.ports.apiserver)),
            *("--kubeconfig", str(ctx.home.kubeconfig)),
        ],
        health=lambda ctx: Health("http", f"{ctx.api_url}/_emulator/health"),
        address=lambda ctx: ctx.api_url,
        startup_timeout=20.0,
    ),
    Component(
        name="s3",
        module="mloop.local.s3",
        args=lambda ctx: ["--host", HOST, "--port", str(ctx.ports.s3), "--bucket", ARTIFACTS_BUCKET],
        health=lambda ctx: Health("tcp", ctx.s3_endpoint),
        address=lambda ctx: f"http://{ctx.s3_endpoint}",
    ),
    Component(
        name="podrunner",
        module="mloop.local.podrunner",
        args=lambda ctx: ["--kubeconfig", str(ctx.home.kubeconfig), "--home", str(ctx.home.root / "node")],
        health=lambda ctx: Health("alive"),
        address=lambda ctx: "pods on 127.1.0.0/16",
        stop_timeout=35.0,
    ),
    Component(
        name="services",
        module="mloop.local.services",
        args=lambda ctx: ["--kubeconfig", str(ctx.home.kubeconfig)],
        health=lambda ctx: Health("alive"),
        address=lambda ctx: f"ClusterIPs on {CLUSTER_IP_RANGE}",
    ),
    Component(
        name="operator",
        module="mloop.operator",
        args=lambda ctx: [],
        env=_operator_env,
        health=lambda ctx: Health("http", f"http://{HOST}:{ctx.ports.operator_health}/healthz"),
        address=lambda ctx: f"http://{HOST}:{ctx.ports.operator_health}/healthz",
        startup_timeout=60.0,
    ),
)


def skipped(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """Component names listed in ``MLOOP_LOCAL_SKIP`` (comma-separated)."""
    raw = (os.environ if env is None else env).get(SKIP_ENV, "")
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def missing_modules(components: Sequence[Component]) -> list[str]:
    """One clear sentence per component whose program is not installed."""
    problems = []
    for component in components:
        try:
            found = importlib.util.find_spec(component.module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            problems.append(
                f"component {component.name!r} needs the module {component.module}, which is not installed "
                f"(set {SKIP_ENV}={component.name} to start without it)"
            )
    return problems


def choose_ports(
    previous: Ports | None,
    *,
    is_free: Callable[[int], bool] = port_free,
    pick_free: Callable[[], int] = free_port,
    api_port: int | None = None,
) -> Ports:
    """Keep last run's ports when still free; the API server prefers ``api_port`` or 6443."""

    def keep(old: int | None, preferred: int | None = None) -> int:
        for candidate in (old, preferred):
            if candidate and is_free(candidate):
                return candidate
        return pick_free()

    if api_port:
        return Ports(
            apiserver=keep(api_port),
            s3=keep(previous.s3 if previous else None),
            operator_health=keep(previous.operator_health if previous else None),
        )
    return Ports(
        apiserver=keep(previous.apiserver if previous else None, DEFAULT_API_PORT),
        s3=keep(previous.s3 if previous else None),
        operator_health=keep(previous.operator_health if previous else None),
    )
