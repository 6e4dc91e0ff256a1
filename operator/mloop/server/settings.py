"""Every knob of the prediction server in one place: flags first, then ``MLOOP_SERVER_*``, then defaults.

The Deployments the operator writes pass everything through the environment (so ``kubectl describe`` shows
it and ``--host $(POD_IP)`` can come from a fieldRef); people running the server by hand use flags. A flag
wins over its variable. Bad values fail here, before anything is loaded, with a message naming the setting
(exit code 2, like argparse).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["ENV_PREFIX", "ROLES", "ServerSettings", "SettingsError", "parse_settings"]

ENV_PREFIX = "MLOOP_SERVER_"
ROLES = ("stable", "canary")
_SHA = re.compile(r"^[0-9a-f]{64}$")
# The model name appears in URL paths (/v2/models/{name}) and in S3 keys: keep it to a safe alphabet.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the flag and the variable."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The server's whole configuration. Immutable: handed to every layer at start-up."""

    model: str
    sha256: str
    name: str
    version: str
    host: str = "0.0.0.0"  # noqa: S104 - a pod serves on its own address; the Deployment passes $(POD_IP)
    port: int = 8080
    role: str = "stable"
    traffic_uri: str | None = None
    deployment: str | None = None
    signature: str | None = None
    max_body_bytes: int = 1024 * 1024
    max_instances: int = 10_000
    log_batch_size: int = 2000
    log_flush_seconds: float = 5.0
    log_buffer: int = 50_000
    shutdown_grace: float = 10.0

    @property
    def deployment_name(self) -> str:
        """The traffic-log partition: the ModelDeployment's name, or the model name when run by hand."""
        return self.deployment or self.name


# (field, flag, help, type); the variable is ENV_PREFIX + field.upper().
_OPTIONS: tuple[tuple[str, str, str, type], ...] = (
    ("model", "--model", "model.onnx: s3://bucket/key (credentials from MLOOP_S3_*) or a local path", str),
    ("sha256", "--sha256", "expected SHA-256 of model.onnx (hex); the server refuses any other file", str),
    ("name", "--name", "model name (v2 URLs, metrics and logs)", str),
    ("version", "--version", "model version (the ModelVersion name)", str),
    ("host", "--host", "address to bind (a pod passes $(POD_IP))", str),
    ("port", "--port", "TCP port", int),
    ("role", "--role", "stable or canary (a metric label)", str),
    ("traffic_uri", "--traffic-uri", "s3:// prefix for the request log (unset: no logging)", str),
    ("deployment", "--deployment", "ModelDeployment name (traffic-log partition; default: --name)", str),
    ("signature", "--signature", "optional signature JSON (result.json or its 'signature')", str),
    ("max_body_bytes", "--max-body-bytes", "largest accepted request body (413 above)", int),
    ("max_instances", "--max-instances", "most rows in one request", int),
    ("log_batch_size", "--log-batch-size", "rows per traffic-log object", int),
    ("log_flush_seconds", "--log-flush-seconds", "flush the traffic log at least this often", float),
    ("log_buffer", "--log-buffer", "rows held for logging before new ones are dropped", int),
    ("shutdown_grace", "--shutdown-grace", "seconds allowed for the final traffic-log flush", float),
)
_REQUIRED = ("model", "sha256", "name", "version")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mloop.server",
        description="Serve one ONNX model (SHA-256 checked) over REST and the Open Inference Protocol v2.",
        epilog=f"Every option can also be set as {ENV_PREFIX}<NAME> (e.g. {ENV_PREFIX}TRAFFIC_URI).",
    )
    for field, flag, text, _kind in _OPTIONS:
        parser.add_argument(flag, dest=field, default=None, help=f"{text} [{ENV_PREFIX}{field.upper()}]")
    return parser


def parse_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> ServerSettings:
    """Merge flags, environment and defaults; raise ``SettingsError`` naming the first bad setting."""
    env = os.environ if environ is None else environ
    args = vars(_parser().parse_args(argv))
    values: dict[str, object] = {}
    for field, flag, _text, kind in _OPTIONS:
        variable = f"{ENV_PREFIX}{field.upper()}"
        raw = args.get(field)
        if raw is None:
            raw = env.get(variable) or None
        if raw is None:
            if field in _REQUIRED:
                raise SettingsError(f"{flag} (or {variable}) is required")
            continue
        text = str(raw).strip()
        try:
            values[field] = kind(text)
        except ValueError:
            raise SettingsError(f"{flag} ({variable}) must be a {kind.__name__}, got {text!r}") from None
    if isinstance(values.get("sha256"), str):
        values["sha256"] = str(values["sha256"]).lower()
    settings = ServerSettings(**values)  # type: ignore[arg-type]  # keys and types come from _OPTIONS
    _check(settings)
    return settings


def _check(s: ServerSettings) -> None:
    if not _SHA.match(s.sha256.lower()):
        raise SettingsError(f"--sha256 must be 64 hexadecimal characters, got {s.sha256!r}")
    if not _NAME.match(s.name):
        raise SettingsError(f"--name {s.name!r}: use letters, digits, '.', '_' and '-' (at most 253)")
    if not _NAME.match(s.version):
        raise SettingsError(f"--version {s.version!r}: use letters, digits, '.', '_' and '-'")
    if s.deployment is not None and not _NAME.match(s.deployment):
        raise SettingsError(f"--deployment {s.deployment!r}: use letters, digits, '.', '_' and '-'")
    if s.role not in ROLES:
        raise SettingsError(f"--role must be one of {', '.join(ROLES)}, got {s.role!r}")
    if not 0 <= s.port <= 65535:
        raise SettingsError(f"--port must be between 0 and 65535, got {s.port}")
    if s.traffic_uri is not None and not s.traffic_uri.startswith("s3://"):
        raise SettingsError(f"--traffic-uri must be an s3:// prefix, got {s.traffic_uri!r}")
    positive = {
        "--max-body-bytes": s.max_body_bytes,
        "--max-instances": s.max_instances,
        "--log-batch-size": s.log_batch_size,
        "--log-buffer": s.log_buffer,
        "--log-flush-seconds": s.log_flush_seconds,
        "--shutdown-grace": s.shutdown_grace,
    }
    for flag, value in positive.items():
        if not value > 0:
            raise SettingsError(f"{flag} must be positive, got {value}")
