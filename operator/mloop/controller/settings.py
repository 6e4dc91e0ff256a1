"""Operator settings, read once from ``MLOOP_*`` environment variables (as the Helm chart sets them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from mloop.images import image_for

__all__ = ["OperatorSettings", "SettingsError"]


class SettingsError(ValueError):
    """A setting is malformed; the message names the variable."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    return int(_float(env, name, float(default)))


@dataclass(frozen=True)
class OperatorSettings:
    """Everything the operator is told from outside. Secrets are never logged: see ``__repr__``."""

    namespaces: tuple[str, ...] = ()
    s3_endpoint: str = "minio:9000"
    s3_access_key: str = ""
    s3_secret_key: str = field(default="", repr=False)
    s3_secure: bool = False
    s3_region: str | None = None
    s3_default_secret: str | None = None
    trainer_image: str = field(default_factory=lambda: image_for("trainer"))
    server_image: str = field(default_factory=lambda: image_for("server"))
    drift_image: str = field(default_factory=lambda: image_for("drift"))
    health_host: str = "0.0.0.0"  # noqa: S104 - probes and Prometheus reach the pod from outside
    health_port: int = 8080
    resync_seconds: float = 60.0
    backoff_base_seconds: float = 5.0
    backoff_max_seconds: float = 300.0
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorSettings:
        env = os.environ if env is None else env
        namespaces = tuple(ns.strip() for ns in env.get("MLOOP_NAMESPACES", "").split(",") if ns.strip())
        return cls(
            namespaces=namespaces,
            s3_endpoint=env.get("MLOOP_S3_ENDPOINT", cls.s3_endpoint),
            s3_access_key=env.get("MLOOP_S3_ACCESS_KEY", env.get("AWS_ACCESS_KEY_ID", "")),
            s3_secret_key=env.get("MLOOP_S3_SECRET_KEY", env.get("AWS_SECRET_ACCESS_KEY", "")),
            s3_secure=_bool(env, "MLOOP_S3_SECURE", False),
            s3_region=env.get("MLOOP_S3_REGION") or None,
            s3_default_secret=env.get("MLOOP_S3_DEFAULT_SECRET") or None,
            trainer_image=env.get("MLOOP_TRAINER_IMAGE") or image_for("trainer"),
            server_image=env.get("MLOOP_SERVER_IMAGE") or image_for("server"),
            drift_image=env.get("MLOOP_DRIFT_IMAGE") or image_for("drift"),
            health_host=env.get("MLOOP_HEALTH_HOST", cls.health_host),
            health_port=_int(env, "MLOOP_HEALTH_PORT", cls.health_port),
            resync_seconds=_float(env, "MLOOP_RESYNC_SECONDS", cls.resync_seconds, minimum=0.1),
            backoff_base_seconds=_float(
                env, "MLOOP_BACKOFF_BASE_SECONDS", cls.backoff_base_seconds, minimum=0.01
            ),
            backoff_max_seconds=_float(
                env, "MLOOP_BACKOFF_MAX_SECONDS", cls.backoff_max_seconds, minimum=0.01
            ),
            log_level=env.get("MLOOP_LOG_LEVEL", cls.log_level).upper(),
        )
