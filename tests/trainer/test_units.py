"""Export parity per algorithm, data loading and digests, termination trimming, mapping to API models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mloop.trainer.candidates import _estimator, build_pipeline, predict_output
from mloop.trainer.data import load_data
from mloop.trainer.export import export_onnx, run_onnx
from mloop.trainer.io import Inputs
from mloop.trainer.profile import FeatureSet, to_model_frame
from mloop.trainer.result import TrainerFailure, termination_message
from tests.trainer.support import binary_frame, regression_frame

CLASSIFIERS = ["logistic_regression", "random_forest", "gradient_boosting", "hist_gradient_boosting"]
REGRESSORS = ["linear_regression", "ridge", "random_forest", "gradient_boosting", "hist_gradient_boosting"]


@pytest.mark.parametrize(
    ("task", "algorithm"),
    [("binary-classification", a) for a in CLASSIFIERS] + [("regression", a) for a in REGRESSORS],
)
def test_onnx_matches_sklearn(task: str, algorithm: str) -> None:
    if task == "regression":
        frame, target = regression_frame(), "target"
        features = FeatureSet(tuple(c for c in frame.columns if c != target), frozenset({"sex"}))
    else:
        frame, target = binary_frame(500), "label"
        features = FeatureSet(tuple(c for c in frame.columns if c != target), frozenset({"region"}))
    x = to_model_frame(frame, features)
    y = frame[target].to_numpy()
    est = _estimator(algorithm, task, 0)
    if "n_estimators" in est.get_params():
        est.set_params(n_estimators=20)
    pipe = build_pipeline(
        features, est, scale=algorithm in ("logistic_regression", "linear_regression", "ridge")
    )
    pipe.fit(x, y)
    classes = sorted(set(y.tolist())) if task != "regression" else []
    model = export_onnx(pipe, features, task, classes, {})
    np.testing.assert_allclose(run_onnx(model, x, task), predict_output(pipe, x, task), atol=1e-4, rtol=0)


def test_parquet_parts_under_a_directory(tmp_path: Path) -> None:
    frame = binary_frame(200)
    parts = tmp_path / "parts"
    parts.mkdir()
    frame.iloc[:120].to_parquet(parts / "part-000.parquet", index=False)
    frame.iloc[120:].to_parquet(parts / "part-001.parquet", index=False)
    (parts / "_SUCCESS").write_text("")
    loaded = load_data(str(parts), Inputs())
    assert len(loaded.frame) == 200
    assert loaded.parts == 2
    assert loaded.format == "parquet"
    listing = "".join(
        f"{name}\t{hashlib.sha256((parts / name).read_bytes()).hexdigest()}\n"
        for name in ("part-000.parquet", "part-001.parquet")
    )
    assert loaded.sha256 == hashlib.sha256(listing.encode()).hexdigest()
    pd.testing.assert_frame_equal(loaded.frame, frame.reset_index(drop=True), check_dtype=False)


def test_missing_and_unreadable_data(tmp_path: Path) -> None:
    with pytest.raises(TrainerFailure) as exc:
        load_data(str(tmp_path / "nope.csv"), Inputs())
    assert exc.value.reason == "DataNotFound"
    (tmp_path / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(TrainerFailure) as exc:
        load_data(str(tmp_path / "x.parquet"), Inputs())
    assert exc.value.reason == "DataUnreadable"


def test_termination_message_is_trimmed_valid_json() -> None:
    result = {
        "status": "failed",
        "reason": "LeakageSuspected",
        "message": "x" * 20_000,
        "dataDigest": "a" * 64,
        "configDigest": "b" * 64,
        "artifacts": {f"a{i}": {"uri": "s3://bkt/" + "k" * 300, "sha256": "c" * 64} for i in range(20)},
    }
    text = termination_message(result)
    assert len(text.encode()) <= 4096
    parsed = json.loads(text)
    assert parsed["reason"] == "LeakageSuspected"
    assert parsed["dataDigest"] == "a" * 64
    small = json.loads(termination_message({"status": "succeeded", "reason": "Succeeded", "message": "ok"}))
    assert small == {"status": "succeeded", "reason": "Succeeded", "message": "ok"}
