"""Start-up: settings → verified model → warm-up → app → uvicorn. Refusal happens before the port is bound.

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT, traffic log flushed); 1 the model was refused
(checksum, not ONNX, custom operators, external data, failed warm-up, unreachable S3) — Kubernetes shows
the message in the pod's termination log and restarts with back-off, and nothing was ever served;
2 bad settings. uvicorn runs with httptools, no access log, no ``Server`` header and no proxy-header
middleware.
"""

from __future__ import annotations

import gc
import json
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from mloop.server.dataplane import DataPlane
from mloop.server.metrics import PROBABILITY_BUCKETS, REGRESSION_BUCKETS, ServerMetrics
from mloop.server.model import ModelRejected, OnnxModel, fetch_model
from mloop.server.rest import RestApp
from mloop.server.settings import ServerSettings, SettingsError, parse_settings
from mloop.server.trafficlog import TrafficLog

__all__ = ["EXIT_REFUSED", "EXIT_USAGE", "build_app", "load_model", "main"]

EXIT_REFUSED, EXIT_USAGE = 1, 2
log = logging.getLogger("mloop.server")


def load_model(settings: ServerSettings) -> OnnxModel:
    """Fetch, verify, load and warm up; ``ModelRejected`` on any reason not to serve."""
    doc: Mapping[str, Any] | None = None
    if settings.signature:
        try:
            doc = json.loads(Path(settings.signature).read_text())
        except (OSError, ValueError) as exc:
            raise ModelRejected(
                "BadSignature", f"cannot read --signature {settings.signature}: {exc}"
            ) from exc
        if not isinstance(doc, dict):
            raise ModelRejected("BadSignature", "--signature must hold a JSON object")
    model = OnnxModel(fetch_model(settings.model, settings.sha256), doc)
    model.warm_up()
    return model


def _buckets(model: OnnxModel) -> tuple[float, ...]:
    if model.signature.classifier:
        return PROBABILITY_BUCKETS
    raw = model.metadata.get("mloop.predictionBuckets")
    if raw:
        try:
            values = sorted({float(v) for v in json.loads(raw)})
        except (ValueError, TypeError):
            values = []
        if values:
            return tuple(values)
    return REGRESSION_BUCKETS


def build_app(settings: ServerSettings, model: OnnxModel | None = None) -> RestApp:
    """The ASGI app for ``settings`` (the model is loaded here unless given)."""
    model = model or load_model(settings)
    metrics = ServerMetrics(
        settings.name,
        settings.version,
        settings.role,
        buckets=_buckets(model),
        classes=model.signature.classes,
    )
    traffic = None
    if settings.traffic_uri:
        from mloop.artifacts import ArtifactStore  # noqa: PLC0415 - minio only when logging is on

        try:
            store = ArtifactStore.from_env()
        except ValueError as exc:
            raise SettingsError(f"--traffic-uri needs S3 settings: {exc}") from exc
        traffic = TrafficLog(
            store,
            settings.traffic_uri,
            deployment=settings.deployment_name,
            model=settings.name,
            version=settings.version,
            role=settings.role,
            names=model.signature.names,
            classes=model.signature.classes,
            metrics=metrics,
            batch_size=settings.log_batch_size,
            flush_seconds=settings.log_flush_seconds,
            capacity=settings.log_buffer,
        )
    return RestApp(DataPlane(settings, model, metrics, traffic), shutdown_grace=settings.shutdown_grace)


def serve(app: RestApp, settings: ServerSettings) -> None:
    import uvicorn  # noqa: PLC0415 - not needed to build or test the app

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="asyncio",
        http="httptools",
        ws="none",
        lifespan="on",
        interface="asgi3",
        access_log=False,
        server_header=False,
        proxy_headers=False,  # nothing here reads the client address: skip a middleware layer per request
        log_level="warning",
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 1,
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then restores the previous handlers and re-raises the
    # signal. A no-op previous handler turns that re-raise into a clean exit 0 after the final log flush.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _ignore)
    # Everything allocated so far (onnx, ORT, prometheus, the model) lives until exit: move it out of the
    # collector's reach so the garbage collections that requests trigger do not rescan it.
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run()


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Placeholder handler (see ``serve``)."""


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = parse_settings(argv)
    except SettingsError as exc:
        print(f"mloop.server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        app = build_app(settings)
    except ModelRejected as exc:
        print(f"mloop.server: refusing to serve {settings.model}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except SettingsError as exc:
        print(f"mloop.server: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sig = app.dp.signature
    where = f"http://{settings.host}:{settings.port}"
    log.info(
        "serving %s %s (%s, role %s) on %s", settings.name, settings.version, sig.task, settings.role, where
    )
    serve(app, settings)
    log.info("stopped")
    return 0
