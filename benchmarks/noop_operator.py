"""A no-op kopf operator for MLProjects: the CPU floor B7 compares mloop against.

It watches the same objects and receives the same events, but its handlers do nothing, so what it spends
is kopf's own cost (watch decoding, diffing, progress bookkeeping). Its annotations use a different prefix,
so it never fights mloop's. Run: ``python -m benchmarks.noop_operator --port PORT [--namespace default]``
with ``KUBECONFIG`` set; ``GET http://127.0.0.1:PORT/healthz`` answers once it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import kopf

__all__ = ["PREFIX", "main"]

PREFIX = "noop.bench.mloop.io"
GROUP, VERSION, PLURAL = "mloop.io", "v1alpha1", "mlprojects"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Annotation-only bookkeeping under our own prefix; no Events posted (mloop posts none per handler)."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{PREFIX}/finalizer"
    settings.posting.enabled = False


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
def nothing(**_: Any) -> None:
    """Do nothing: the cost of reaching here is the baseline."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.noop_operator", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="liveness endpoint port on 127.0.0.1")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--log-level", default="INFO", help="INFO by default, as mloop's operator logs")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    kopf.run(
        standalone=True,
        namespaces=[args.namespace],
        liveness_endpoint=f"http://127.0.0.1:{args.port}/healthz",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
