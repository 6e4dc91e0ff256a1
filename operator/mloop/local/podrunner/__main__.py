"""``python -m mloop.local.podrunner --kubeconfig PATH --home DIR``: run the local pod runner.

SIGTERM or SIGINT stops every container process it started, then exits 0. ``--kill-leftovers``
only kills the processes a killed runner left under ``DIR`` (for supervisors cleaning up).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from .process import kill_leftovers
from .runner import PodRunner, RunnerConfig
from .worker import POD_NETWORK


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m mloop.local.podrunner",
        description="A local kubelet and Job/Deployment/ReplicaSet controllers for mloop images.",
    )
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig of the API server (required)")
    parser.add_argument("--home", type=Path, required=True, help="directory for pod dirs, logs and pid files")
    parser.add_argument("--node-name", default="mloop-local", help="the node pods are bound to")
    parser.add_argument(
        "--restart-backoff-base",
        type=float,
        default=10.0,
        help="first container restart / Job retry delay in seconds, doubling up to 300 (default 10)",
    )
    parser.add_argument(
        "--max-grace", type=float, default=30.0, help="cap on terminationGracePeriodSeconds (default 30)"
    )
    parser.add_argument("--log-interval", type=float, default=1.0, help="seconds between pod log pushes")
    parser.add_argument(
        "--pod-network",
        default=POD_NETWORK,
        help=f"loopback range of pod addresses (default {POD_NETWORK}; one per plane on a shared host)",
    )
    parser.add_argument(
        "--kill-leftovers", action="store_true", help="kill processes left under --home; exit"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.kubeconfig is None and not args.kill_leftovers:
        parser.error("--kubeconfig is required")
    return args


async def _main(config: RunnerConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await PodRunner(config).run(stop)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    home = args.home.expanduser().resolve()
    if args.kill_leftovers:
        print(f"killed {kill_leftovers(home)} leftover processes")
        return 0
    home.mkdir(parents=True, exist_ok=True)
    config = RunnerConfig(
        kubeconfig=args.kubeconfig,
        home=home,
        node_name=args.node_name,
        restart_backoff_base=args.restart_backoff_base,
        max_grace=args.max_grace,
        log_interval=args.log_interval,
        pod_network=args.pod_network,
    )
    asyncio.run(_main(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
