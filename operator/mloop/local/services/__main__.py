"""``python -m mloop.local.services --kubeconfig PATH``: run the Service controller and proxy.

Prints one ``ready`` line on stdout after the first full reconcile, then runs until SIGTERM or SIGINT,
closing every listener (and the connections through it) on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from .allocator import CLUSTER_IP_RANGE
from .controller import ServiceController
from .informer import connection_from_kubeconfig


async def _run(kubeconfig: str, cluster_ip_range: str) -> None:
    controller = ServiceController(connection_from_kubeconfig(kubeconfig), cluster_ip_range=cluster_ip_range)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _start_with_retry(controller, stop)
        if not stop.is_set():
            print("mloop services: ready", flush=True)
            await stop.wait()
    finally:
        await controller.stop()


async def _start_with_retry(controller: ServiceController, stop: asyncio.Event) -> None:
    """The API server may still be starting (or restarting) under the supervisor: keep trying."""
    delay = 0.2
    while not stop.is_set():
        try:
            await controller.start()
            return
        except (OSError, TimeoutError, ValueError) as exc:  # aiohttp errors are OSError subclasses
            logging.getLogger(__name__).warning("API server not reachable yet (%s); retrying", exc)
        except Exception as exc:  # noqa: BLE001 - any first-list failure (e.g. HTTP 503) is retried alike
            logging.getLogger(__name__).warning("start failed (%s); retrying", exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mloop.local.services", description=__doc__)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--cluster-ip-range",
        default=CLUSTER_IP_RANGE,
        help=f"loopback range of ClusterIPs (default {CLUSTER_IP_RANGE}; one per plane on a shared host)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_run(args.kubeconfig, args.cluster_ip_range))
    return 0


if __name__ == "__main__":
    sys.exit(main())
