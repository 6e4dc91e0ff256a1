"""``mloop``: entry point of the console script. Command groups register themselves in ``COMMANDS``, so a
later ``mloop status`` or ``mloop approve`` is one module with a ``register(subparsers)`` function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from mloop import __version__

from . import actions, local, report, retrain, status
from .errors import EXIT_CODES

__all__ = ["COMMANDS", "build_parser", "main"]

#: Each adds its sub-commands and sets ``func`` (``func(args) -> exit code``) on its parsers.
COMMANDS: tuple[Callable[[Any], None], ...] = (
    local.register,
    status.register,
    actions.register,
    retrain.register,
    report.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mloop",
        description="mloop: the ML lifecycle as one loop.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mloop {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
