"""``python -m mloop.local.apiserver --host 127.0.0.1 --port N --kubeconfig PATH``: run standalone.

Prints the URL on stdout once listening, then runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .server import ApiServer


async def _main(args: argparse.Namespace) -> None:
    server = ApiServer(bookmark_interval=args.bookmark_interval)
    url = await server.start(args.host, args.port)
    if args.kubeconfig:
        server.write_kubeconfig(args.kubeconfig, context=args.context)
    print(url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m mloop.local.apiserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", help="write a kubeconfig pointing at the server here")
    parser.add_argument("--context", default="mloop-local")
    parser.add_argument("--bookmark-interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
