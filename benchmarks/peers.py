"""The peer server B2 compares against: MLServer with its scikit-learn runtime, serving the same fitted
pipeline that B2 serves as ONNX, in its own environment (``make peers``: ``.venv-peers`` from the pins in
``benchmarks/peers.txt``; MLServer's dependencies clash with ours, and the pickled pipeline needs the same
scikit-learn, numpy and pandas as ours, which the pins keep equal).

MLServer is configured for one small model and the setting closest to ours: inference in the server process
(``parallel_workers: 0``, no hop to a worker pool), ``predict_proba`` as the output, and one request of
Open Inference Protocol v2 JSON per row with ``content_type: pd`` so that the pipeline gets the DataFrame it
was fitted on. When the environment is missing, B2 says so and compares nothing: no peer number is faked.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import joblib
import orjson

from benchmarks.b1_kernel import CreditModel
from benchmarks.support import ChildProcess, free_port

__all__ = ["PEERS_VENV", "mlserver_body", "mlserver_missing", "start_mlserver"]

PEERS_VENV = Path(__file__).resolve().parents[1] / ".venv-peers"
MODEL_NAME = "credit"


def mlserver_missing(venv: Path = PEERS_VENV) -> str | None:
    """Why MLServer cannot run here, or None when it can."""
    if not (venv / "bin" / "mlserver").exists():
        return f"MLServer is not installed in {venv.name} (`make peers`; needs PyPI): no peer comparison"
    return None


def mlserver_body(rows: list[Mapping[str, Any]]) -> bytes:
    """One v2 inference request for ``rows``: one input per column, strings as BYTES, numbers as FP64."""
    inputs = []
    for name in rows[0]:
        values = [row[name] for row in rows]
        text = isinstance(values[0], str)
        inputs.append(
            {"name": name, "shape": [len(rows)], "datatype": "BYTES" if text else "FP64", "data": values}
        )
    return orjson.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs})


def start_mlserver(model: CreditModel, log: Path, venv: Path = PEERS_VENV) -> tuple[ChildProcess, int]:
    """Dump the pipeline, write MLServer's two settings files, start it and wait until it is ready."""
    directory = Path(tempfile.mkdtemp(prefix="mloop-bench-mlserver-"))
    joblib.dump(model.pipeline, directory / "model.joblib")
    port = free_port()
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,
        "debug": False,
    }
    (directory / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1", "extra": {"predict_fn": "predict_proba"}},
    }
    (directory / "model-settings.json").write_text(json.dumps(model_settings))
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(directory)}
    child = ChildProcess([str(venv / "bin" / "mlserver"), "start", str(directory)], env, log).start()
    child.wait_healthy(f"http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/ready", timeout=120)
    return child, port
