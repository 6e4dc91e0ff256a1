"""Predictions over real HTTP equal ONNX Runtime run directly; v2 and tritonclient speak to the same model."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as triton

from tests.server.conftest import ServerProcess, TrainedModel
from tests.trainer.support import binary_frame, multiclass_frame, regression_frame

FRAMES = {
    "binary": lambda: binary_frame(300, seed=5),
    "multiclass": multiclass_frame,
    "regression": regression_frame,
}


def _rows(model: TrainedModel, n: int) -> list[dict[str, Any]]:
    """The first n rows as JSON instances (NaN → null, categories as strings)."""
    frame = FRAMES[model.kind]().head(n)
    rows = []
    for record in frame[model.features].to_dict("records"):
        rows.append({k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()})
    return rows


def _direct(model: TrainedModel, rows: list[dict[str, Any]]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    feeds = {}
    for inp in session.get_inputs():
        values = [r[inp.name] for r in rows]
        if inp.type == "tensor(string)":
            feeds[inp.name] = np.array(["" if v is None else v for v in values], dtype=object).reshape(-1, 1)
        else:
            feeds[inp.name] = np.array([np.nan if v is None else v for v in values], np.float32).reshape(
                -1, 1
            )
    outputs: list[np.ndarray] = session.run(None, feeds)
    return outputs


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_predict_matches_onnxruntime(
    kind: str, models: dict[str, TrainedModel], servers: dict[str, ServerProcess]
) -> None:
    model, server = models[kind], servers[kind]
    rows = _rows(model, 40)
    assert any(v is None for r in rows for v in r.values()) or kind != "binary"  # missing values are served
    status, answer = server.json("POST", "/predict", {"instances": rows})
    assert status == 200, answer
    assert answer["model"] == kind
    assert answer["version"] == "v1"
    assert len(answer["requestId"]) == 36
    expected = _direct(model, rows)
    if kind == "regression":
        assert "probabilities" not in answer
        np.testing.assert_allclose(answer["predictions"], expected[0].ravel(), rtol=1e-6)
        return
    assert answer["predictions"] == expected[0].ravel().tolist()
    classes = model.signature["classes"]
    probs = [[p[c] for c in classes] for p in answer["probabilities"]]
    np.testing.assert_allclose(probs, expected[1], rtol=1e-6)

    # The same rows as lists in signature order give the same answer.
    as_lists = [[r[f] for f in model.features] for r in rows]
    status, again = server.json("POST", "/predict", {"instances": as_lists})
    assert status == 200
    assert again["probabilities"] == answer["probabilities"]
    assert again["requestId"] != answer["requestId"]


def test_unknown_category_is_accepted(
    models: dict[str, TrainedModel], servers: dict[str, ServerProcess]
) -> None:
    row = _rows(models["binary"], 1)[0] | {"region": "atlantis-🚀"}
    status, answer = servers["binary"].json("POST", "/predict", {"instances": [row]})
    assert status == 200, answer
    assert abs(sum(answer["probabilities"][0].values()) - 1) < 1e-5


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_v2_json_infer(kind: str, models: dict[str, TrainedModel], servers: dict[str, ServerProcess]) -> None:
    model, server = models[kind], servers[kind]
    rows = _rows(model, 7)
    inputs = []
    for inp in model.signature["inputs"]:
        data = [r[inp["name"]] for r in rows]
        datatype = "BYTES" if inp["dtype"] == "string" else "FP32"
        inputs.append({"name": inp["name"], "shape": [7, 1], "datatype": datatype, "data": data})
    status, answer = server.json("POST", f"/v2/models/{kind}/infer", {"id": "req-1", "inputs": inputs})
    assert status == 200, answer
    assert answer["id"] == "req-1"
    assert answer["model_name"] == kind
    assert answer["model_version"] == "v1"
    outputs = {o["name"]: o for o in answer["outputs"]}
    expected = _direct(model, rows)
    if kind == "regression":
        assert outputs["variable"]["shape"] == [7, 1]
        np.testing.assert_allclose(outputs["variable"]["data"], expected[0].ravel(), rtol=1e-6)
    else:
        assert outputs["probabilities"]["shape"] == [7, 2]
        np.testing.assert_allclose(outputs["probabilities"]["data"], expected[1].ravel(), rtol=1e-6)
    # versioned path, requested outputs
    body = {"inputs": inputs, "outputs": [{"name": "variable" if kind == "regression" else "label"}]}
    status, answer = server.json("POST", f"/v2/models/{kind}/versions/v1/infer", body)
    assert status == 200
    assert len(answer["outputs"]) == 1
    status, _ = server.json("POST", f"/v2/models/{kind}/versions/v9/infer", body)
    assert status == 404


@pytest.mark.parametrize("binary_data", [False, True])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_tritonclient(
    kind: str, binary_data: bool, models: dict[str, TrainedModel], servers: dict[str, ServerProcess]
) -> None:
    model, server = models[kind], servers[kind]
    rows = _rows(model, 5)
    client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready(kind)
        meta = client.get_model_metadata(kind)
        assert meta["platform"] == "onnxruntime"
        assert meta["versions"] == ["v1"]
        assert [i["name"] for i in meta["inputs"]] == model.features
        inputs = []
        for spec in meta["inputs"]:
            values = [rows[i][spec["name"]] for i in range(5)]
            if spec["datatype"] == "BYTES":
                array = np.array([("" if v is None else v).encode() for v in values], dtype=np.object_)
            else:
                array = np.array([np.nan if v is None else v for v in values], dtype=np.float32)
            tensor = triton.InferInput(spec["name"], [5, 1], spec["datatype"])
            tensor.set_data_from_numpy(array.reshape(5, 1), binary_data=binary_data)
            inputs.append(tensor)
        names = [o["name"] for o in meta["outputs"]]
        result = client.infer(kind, inputs, outputs=[triton.InferRequestedOutput(n) for n in names])
    finally:
        client.close()
    expected = _direct(model, rows)
    if kind == "regression":
        np.testing.assert_allclose(result.as_numpy("variable").ravel(), expected[0].ravel(), rtol=1e-6)
    else:
        assert result.as_numpy("label").tolist() == expected[0].ravel().tolist()
        np.testing.assert_allclose(result.as_numpy("probabilities"), expected[1], rtol=1e-6)


def test_health_metadata_and_routes(servers: dict[str, ServerProcess]) -> None:
    server = servers["binary"]
    for path in ("/healthz", "/readyz", "/v2/health/live", "/v2/health/ready", "/v2/models/binary/ready"):
        assert server.request("GET", path)[0] == 200, path
    assert server.json("GET", "/v2/models/nope")[0] == 404
    assert server.json("GET", "/v2/models/nope/ready")[0] == 404
    assert server.json("GET", "/nowhere")[0] == 404
    status, body = server.json("GET", "/predict")
    assert status == 405
    assert body["field"] == "method"
    status, meta = server.json("GET", "/v2/models/binary")
    assert status == 200
    assert meta["outputs"] == [
        {"name": "label", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 2]},
    ]
    assert meta["parameters"]["signature"]["classes"] == ["0", "1"]


def test_metrics_move(models: dict[str, TrainedModel], servers: dict[str, ServerProcess]) -> None:
    server = servers["binary"]
    labels = {"model": "binary", "version": "v1", "role": "stable"}
    before = {
        "rows": server.metric("mloop_predictions_total", **labels),
        "values": server.metric("mloop_prediction_value_count", **labels),
        "classes": server.metric("mloop_prediction_class_total", **labels),
        "requests": server.metric("mloop_request_duration_seconds_count", **labels),
        "422": server.metric("mloop_prediction_errors_total", code="422", **labels),
    }
    rows = _rows(models["binary"], 16)
    assert server.json("POST", "/predict", {"instances": rows})[0] == 200
    assert server.json("POST", "/predict", {"instances": [{"f0": "x"}]})[0] == 422
    assert server.metric("mloop_predictions_total", **labels) == before["rows"] + 16
    assert server.metric("mloop_prediction_value_count", **labels) == before["values"] + 16
    assert server.metric("mloop_prediction_class_total", **labels) == before["classes"] + 16
    assert server.metric("mloop_request_duration_seconds_count", **labels) == before["requests"] + 2
    assert server.metric("mloop_prediction_errors_total", code="422", **labels) == before["422"] + 1
    # fixed probability buckets: 20 equal steps over [0, 1], identical on every pod
    buckets = [k for k in server.metrics() if k.startswith("mloop_prediction_value_bucket")]
    assert len(buckets) == 21
    assert 'le="0.05"' in buckets[0]
    assert 'le="+Inf"' in buckets[-1]
