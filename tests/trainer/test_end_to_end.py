"""Binary, multiclass and regression runs end to end to a local directory, on real sklearn training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest

from mloop.trainer.result import STAGES
from tests.trainer.support import binary_frame, multiclass_frame, project, regression_frame, run, sha256_file

REQUIRED = {
    "status", "reason", "message", "stages", "data", "profile", "leakage", "split", "trials", "best",
    "metrics", "slices", "fairness", "parity", "artifacts", "signature", "dataDigest", "configDigest",
    "trainerVersion", "durationSeconds",
}  # fmt: skip


def _check_common(tmp: Path, result: dict[str, Any], frame: pd.DataFrame) -> None:
    assert set(result) >= REQUIRED
    assert result["status"] == "succeeded", result["message"]
    assert [s["name"] for s in result["stages"]] == list(STAGES)
    assert all(s["status"] == "True" and s["seconds"] >= 0 for s in result["stages"])
    assert result["data"]["rows"] == len(frame)
    assert result["data"]["columns"] == frame.shape[1]
    assert result["data"]["sha256"] == sha256_file(tmp / "data.csv") == result["dataDigest"]
    assert len(result["configDigest"]) == 64
    for name in ("model", "card", "report", "reference"):
        ref = result["artifacts"][name]
        assert Path(ref["uri"]).is_file(), name
        assert sha256_file(ref["uri"]) == ref["sha256"]
        assert Path(ref["uri"]).stat().st_size == ref["sizeBytes"]
    model = onnx.load(result["artifacts"]["model"]["uri"])
    opsets = {o.domain: o.version for o in model.opset_import}
    assert result["artifacts"]["model"]["opset"] == opsets[""] <= result["artifacts"]["model"]["targetOpset"]
    assert result["parity"]["maxAbsDiff"] <= 1e-4
    reference = pd.read_parquet(result["artifacts"]["reference"]["uri"])
    assert len(reference) <= 10_000
    assert list(reference.columns) == [i["name"] for i in result["signature"]["inputs"]]
    html = Path(result["artifacts"]["report"]["uri"]).read_text()
    assert "data:image/png;base64," in html
    assert all(Path(p["uri"]).is_file() for p in result["plots"].values())
    assert result["trials"]
    assert all({"params", "validation", "fitSeconds"} <= set(t) for t in result["trials"])


def _onnx(result: dict[str, Any], frame: pd.DataFrame) -> list[np.ndarray]:
    session = ort.InferenceSession(result["artifacts"]["model"]["uri"], providers=["CPUExecutionProvider"])
    feeds = {}
    for spec in result["signature"]["inputs"]:
        col = frame[spec["name"]]
        if spec["dtype"] == "string":
            feeds[spec["name"]] = col.fillna("").astype(str).to_numpy(dtype=object).reshape(-1, 1)
        else:
            feeds[spec["name"]] = col.to_numpy(dtype=np.float32).reshape(-1, 1)
    return list(session.run(None, feeds))


def test_binary_classification(tmp_path: Path) -> None:
    frame = binary_frame()
    doc = project(
        "binary-classification", "label", "roc_auc", slices=["region"], sensitiveFeatures=["region"]
    )
    code, result = run(tmp_path, doc, frame)
    assert code == 0
    _check_common(tmp_path, result, frame)
    assert result["metrics"]["test"]["roc_auc"] > result["metrics"]["baseline"]["roc_auc"] + 0.2
    assert set(result["metrics"]["test"]) == {"roc_auc", "f1", "precision", "recall", "accuracy", "log_loss"}
    assert {s["value"] for s in result["slices"]} == {"north", "south", "east", "west"}
    assert result["fairness"]["region"]["demographicParityDifference"] is not None
    assert "brier" in result["evaluation"]["calibration"]
    assert len(result["evaluation"]["worstPredictions"]) == 20
    kinds = {i["name"]: i["kind"] for i in result["signature"]["inputs"]}
    assert kinds["region"] == "categorical"
    assert kinds["f0"] == "numeric"
    _, proba = _onnx(result, frame)
    assert proba.shape == (len(frame), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_multiclass(tmp_path: Path) -> None:
    frame = multiclass_frame()
    doc = project("multiclass-classification", "cultivar", "f1", split={"strategy": "stratified"})
    doc["spec"]["data"]["quality"] = {"minRows": 50}
    code, result = run(tmp_path, doc, frame)
    assert code == 0, result["message"]
    _check_common(tmp_path, result, frame)
    assert result["signature"]["classes"] == ["0", "1", "2"]
    assert len(result["evaluation"]["confusionMatrix"]["matrix"]) == 3
    assert result["metrics"]["test"]["f1"] > 0.85
    _, proba = _onnx(result, frame)
    assert proba.shape == (len(frame), 3)


def test_regression(tmp_path: Path) -> None:
    frame = regression_frame()
    code, result = run(tmp_path, project("regression", "target", "rmse", slices=["sex"]), frame)
    assert code == 0, result["message"]
    _check_common(tmp_path, result, frame)
    assert set(result["metrics"]["test"]) == {"rmse", "mae", "r2", "mape"}
    assert result["metrics"]["test"]["rmse"] < result["metrics"]["baseline"]["rmse"]
    assert result["signature"]["outputs"] == [{"name": "variable", "dtype": "float32"}]
    assert "residuals.png" in result["plots"]
    (values,) = _onnx(result, frame)
    assert values.shape[0] == len(frame)


@pytest.mark.parametrize("metric", ["log_loss", "accuracy"])
def test_best_respects_metric_direction(tmp_path: Path, metric: str) -> None:
    doc = project("binary-classification", "label", metric)
    code, result = run(tmp_path, doc, binary_frame(400))
    assert code == 0
    scores = [t["validation"][metric] for t in result["trials"]]
    best = min(scores) if metric == "log_loss" else max(scores)
    assert result["metrics"]["validation"][metric] == best
