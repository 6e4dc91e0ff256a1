"""``mloop report <version> [--output DIR] [--open]``: the model card on stdout, the evaluation report saved.

Both files come from S3 exactly as the trainer wrote them and are checked against the SHA-256 stored with
each object: a card or report that does not match is refused, never shown. stdout carries only the markdown
card (so ``mloop report v > card.md`` works); where the HTML report went is said on stderr.

S3 is configured by ``MLOOP_S3_ENDPOINT``/``MLOOP_S3_ACCESS_KEY``/``MLOOP_S3_SECRET_KEY``; without them, when
the kubeconfig points at the embedded control plane, its S3 endpoint from ``~/.mloop/local/state.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .common import command, connection_flags, print_json
from .errors import CliError, ConfigError, Refused
from .kube import Kube

if TYPE_CHECKING:
    from mloop.artifacts import ArtifactStore

__all__ = ["LOCAL_STATE", "open_store", "register"]

LOCAL_STATE = "~/.mloop/local/state.json"
#: moto ignores credentials; these are the embedded control plane's conventional ones.
LOCAL_CREDENTIALS = ("testing", "testing")
NOT_CONFIGURED = (
    "S3 is not configured: set MLOOP_S3_ENDPOINT, MLOOP_S3_ACCESS_KEY and MLOOP_S3_SECRET_KEY "
    "(for the embedded control plane, `mloop local up` provides them)"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        parents=[connection_flags()],
        help="print a ModelVersion's model card and save its evaluation report",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("version", help="ModelVersion name")
    parser.add_argument(
        "--output", "--output-dir", dest="directory", default=".", metavar="DIR",
        help="where to save <version>-report.html (default: the current directory)",
    )  # fmt: skip
    parser.add_argument("--open", action="store_true", help="open the saved report in a web browser")
    # Only the short flag: --output names the directory here, as in the other report tools.
    parser.add_argument("-o", dest="output", choices=("table", "json"), default="table", help="output format")
    parser.set_defaults(func=command(cmd_report))


def cmd_report(args: argparse.Namespace, kube: Kube) -> int:
    if args.directory in ("json", "table") and not Path(args.directory).is_dir():
        raise CliError(f"--output names the directory for the report; for {args.directory} output use -o", 2)
    version = kube.get("modelversions", args.namespace, args.version)
    spec = version.get("spec") or {}
    card_uri, report_uri = spec.get("modelCardUri"), spec.get("reportUri")
    if not card_uri and not report_uri:
        raise Refused(
            f"ModelVersion {args.version} names no model card and no report (spec.modelCardUri, reportUri)"
        )
    store = open_store(kube.conn.server)
    result: dict[str, Any] = {"version": args.version, "modelCardUri": card_uri, "reportUri": report_uri}
    if card_uri:
        card, result["modelCardSha256"] = _fetch(store, card_uri, None)
        result["modelCard"] = card.decode("utf-8", "replace")
    if report_uri:
        path = Path(args.directory).expanduser() / f"{args.version}-report.html"
        _, result["reportSha256"] = _fetch(store, report_uri, path)
        result["reportPath"] = str(path.resolve())
    if args.output == "json":
        print_json(result)
    elif card_uri:
        sys.stdout.write(result["modelCard"].rstrip("\n") + "\n")
    else:
        print(f"ModelVersion {args.version} has no model card (spec.modelCardUri is empty)", file=sys.stderr)
    if report_uri:
        print(f"evaluation report saved to {result['reportPath']}", file=sys.stderr)
        if args.open:
            import webbrowser  # noqa: PLC0415 - rarely used, not worth loading on every start

            webbrowser.open(Path(result["reportPath"]).as_uri())
    else:
        print(
            f"ModelVersion {args.version} has no evaluation report (spec.reportUri is empty)", file=sys.stderr
        )
    return 0


def _fetch(store: ArtifactStore, uri: str, dest: Path | None) -> tuple[bytes, str]:
    """Read (or download to ``dest``) one object, verified against the digest stored with it."""
    from mloop.artifacts import AccessDenied, ArtifactError, StorageUnavailable  # noqa: PLC0415 - minio

    try:
        stored = store.stat(uri).sha256
        if stored is None:
            raise CliError(f"{uri} carries no SHA-256; refusing to trust it")
        if dest is None:
            return store.get_bytes(uri, expected_sha256=stored), stored
        store.download(uri, dest, expected_sha256=stored)
        return b"", stored
    except (StorageUnavailable, AccessDenied) as exc:
        raise ConfigError(f"S3 at {store.endpoint}: {exc.message}") from exc
    except ArtifactError as exc:
        raise CliError(exc.message) from exc
    except OSError as exc:
        raise CliError(f"cannot save {dest}: {exc}") from exc


def open_store(server: str) -> ArtifactStore:
    """The environment's S3, else the embedded control plane's when ``server`` is its API server."""
    from mloop.artifacts import ArtifactStore, RetryPolicy  # noqa: PLC0415 - minio only when needed

    retry = RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0)  # a person is waiting
    if os.environ.get("MLOOP_S3_ENDPOINT", "").strip():
        try:
            return ArtifactStore.from_env(retry=retry)
        except ValueError as exc:
            raise ConfigError(f"S3 configuration: {exc}") from exc
    endpoint = _local_endpoint(server)
    if endpoint is None:
        raise ConfigError(NOT_CONFIGURED)
    return ArtifactStore(endpoint, *LOCAL_CREDENTIALS, retry=retry)


def _local_endpoint(server: str) -> str | None:
    """The embedded S3 endpoint, if the state file exists and describes the API server we talk to."""
    try:
        state = json.loads(Path(LOCAL_STATE).expanduser().read_text())
    except (OSError, ValueError):
        return None
    ports = state.get("ports") or {}
    url = urlsplit(server)
    if url.hostname not in ("127.0.0.1", "localhost") or url.port != ports.get("apiserver"):
        return None
    extra = state.get("extra") or {}
    endpoint = extra.get("s3Endpoint") or (f"http://127.0.0.1:{ports['s3']}" if ports.get("s3") else None)
    return str(endpoint) if endpoint else None
