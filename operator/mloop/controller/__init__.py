"""The operator's adapters (kopf handlers) and per-kind orchestration.

Importing this package registers the handlers with kopf; ``register(settings)`` adds the timers whose
intervals come from settings.
"""

from __future__ import annotations

import kopf

from mloop.api import GROUP, VERSION
from mloop.controller import handlers, startup
from mloop.controller.settings import OperatorSettings

__all__ = ["register"]

_registered: set[str] = set()


def register(settings: OperatorSettings) -> None:
    """Register the periodic resync timers once, with the configured interval."""
    if "mlprojects" in _registered:
        return
    kopf.timer(
        GROUP,
        VERSION,
        "mlprojects",
        interval=settings.resync_seconds,
        initial_delay=settings.resync_seconds,
        idle=None,
    )(handlers.mlproject_resync)
    _registered.add("mlprojects")
    _ = startup  # imported for its kopf.on.startup/cleanup registrations
