"""What every cluster command shares: connection flags, the error guard, and small readers of object status.

Each command is ``func(args, kube) -> exit code``; ``command()`` wraps it so that connecting, printing
errors and choosing exit codes happen in one place and behave the same for every command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .errors import CliError
from .kube import Kube
from .kubeconfig import load_connection

__all__ = [
    "add_output",
    "command",
    "condition",
    "connection_flags",
    "format_age",
    "now",
    "parse_time",
    "print_json",
    "rfc3339",
]

Command = Callable[[argparse.Namespace, Kube], int]


def connection_flags() -> argparse.ArgumentParser:
    """A parent parser with the flags every cluster command takes, named as in kubectl."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else ~/.mloop/local/kubeconfig)",
    )
    group.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
    group.add_argument(
        "-n", "--namespace", metavar="NS", help="namespace (default: the context's namespace, else default)"
    )
    group.add_argument(
        "-v", "--verbose", action="store_true", help="say which kubeconfig and server are used"
    )
    return parent


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")


def command(func: Command) -> Callable[[argparse.Namespace], int]:
    """Connect, run, and turn any ``CliError`` into ``mloop: <message>`` on stderr plus its exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            conn = load_connection(args.kubeconfig, args.context, args.namespace)
            if args.verbose:
                print(
                    f"using kubeconfig {conn.kubeconfig} (from {conn.source}), context {conn.context}, "
                    f"server {conn.server}, namespace {conn.namespace}",
                    file=sys.stderr,
                )
            args.namespace = conn.namespace
            return func(args, Kube(conn))
        except CliError as exc:
            print(f"mloop: {exc.message}", file=sys.stderr)
            return exc.code
        except KeyboardInterrupt:
            print("mloop: interrupted", file=sys.stderr)
            return 130

    run.__doc__ = func.__doc__
    return run


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    """The condition of that type, or an empty dict (so ``.get`` chains stay short)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_age(text: object, reference: datetime | None = None) -> str:
    """kubectl's compact age: 45s, 12m, 3h, 5d (empty when unknown)."""
    moment = parse_time(text)
    if moment is None:
        return ""
    seconds = max(0, int(((reference or now()) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
