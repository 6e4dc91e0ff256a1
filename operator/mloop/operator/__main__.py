"""Run the mloop operator: ``python -m mloop.operator`` (settings from ``MLOOP_*`` environment variables)."""

from __future__ import annotations

import asyncio
import logging
import sys

import kopf

import mloop.controller  # noqa: F401 - registers the kopf handlers
from mloop.controller.settings import OperatorSettings, SettingsError
from mloop.controller.startup import configure_kopf


def main() -> int:
    try:
        settings = OperatorSettings.from_env()
    except SettingsError as exc:
        print(f"mloop operator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kopf_settings = kopf.OperatorSettings()
    configure_kopf(kopf_settings)
    asyncio.run(
        kopf.operator(
            settings=kopf_settings,
            standalone=True,
            clusterwide=not settings.namespaces,
            namespaces=settings.namespaces,
            memo=kopf.Memo(operator_settings=settings),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
