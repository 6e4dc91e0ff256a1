"""``python -m mloop.local.supervisor --home DIR``: run the control plane's supervisor (what ``mloop local
up`` starts as a daemon). Logs go to stderr; the state goes to ``DIR/state.json``."""

from __future__ import annotations

import argparse
import logging
import sys

from .run import Supervisor
from .state import Home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mloop.local.supervisor", description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--api-port", type=int, default=None, help="API server port (default: kept, or 6443)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Supervisor(Home.at(args.home), api_port=args.api_port).run()


if __name__ == "__main__":
    sys.exit(main())
