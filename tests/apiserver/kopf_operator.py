"""A minimal kopf operator for the end-to-end smoke test: marks every Widget as seen in its status."""

from typing import Any

import kopf


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="smoke.mloop.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="smoke.mloop.io")
    settings.watching.server_timeout = 10
    settings.posting.level = 0


@kopf.on.create("example.mloop.io", "v1", "widgets")
def seen(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    kopf.info(body, reason="Seen", message="hello")
    patch.status["phase"] = f"Seen-{spec['problem']['task']}"
