"""kopf adapters: parse, call one reconcile, write status. Nothing else lives here."""

from __future__ import annotations

from typing import Any

import kopf

from mloop.api import GROUP, VERSION
from mloop.controller.deps import Dependencies
from mloop.controller.errors import mapped_errors
from mloop.controller.mlproject import sync_mlproject

__all__ = ["mlproject_changed"]


@kopf.on.resume(GROUP, VERSION, "mlprojects")
@kopf.on.create(GROUP, VERSION, "mlprojects")
@kopf.on.update(GROUP, VERSION, "mlprojects")
async def mlproject_changed(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Create, update and operator restart all lead to the same level-based reconcile."""
    deps: Dependencies = memo["deps"]
    with mapped_errors("MLProject", retry=retry, settings=deps.settings, metrics=deps.metrics):
        await sync_mlproject(body, deps)
