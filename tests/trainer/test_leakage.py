"""A planted leak fails the run with LeakageSuspected, and passes when the project allows it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mloop.api.data import DataSpec
from mloop.trainer.leakage import audit_leakage
from mloop.trainer.profile import FeatureSet
from tests.trainer.support import binary_frame, project, regression_frame, run


def _leaky(n: int = 600) -> pd.DataFrame:
    frame = binary_frame(n)
    frame["refund_issued"] = frame["label"] + np.random.default_rng(0).normal(0, 0.01, size=n)
    return frame


def test_planted_leak_fails_the_run(tmp_path: Path) -> None:
    code, result = run(tmp_path, project("binary-classification", "label", "roc_auc"), _leaky())
    assert code == 1
    assert result["status"] == "failed"
    assert result["reason"] == "LeakageSuspected"
    assert "refund_issued" in result["message"]
    assert "single-feature-auc" in result["message"]
    flagged = {f["column"]: f for f in result["leakage"]["flagged"]}
    assert flagged["refund_issued"]["score"] >= 0.98
    assert flagged["refund_issued"]["action"] == "failed"
    assert result["stages"][-1] == {**result["stages"][-1], "name": "LeakageAudited", "status": "False"}
    assert not result["artifacts"]


def test_allowed_leak_is_reported_not_failing(tmp_path: Path) -> None:
    doc = project("binary-classification", "label", "roc_auc", allowedLeakyColumns=["refund_issued"])
    code, result = run(tmp_path, doc, _leaky())
    assert code == 0, result["message"]
    (finding,) = [f for f in result["leakage"]["flagged"] if f["column"] == "refund_issued"]
    assert finding["action"] == "allowed"


def test_forbidden_columns_are_dropped(tmp_path: Path) -> None:
    doc = project("binary-classification", "label", "roc_auc", forbiddenColumns=["refund_issued"])
    code, result = run(tmp_path, doc, _leaky())
    assert code == 0, result["message"]
    assert "refund_issued" not in [i["name"] for i in result["signature"]["inputs"]]
    assert result["leakage"]["flagged"][0]["action"] == "dropped"


def _spec(**kw: object) -> DataSpec:
    return DataSpec.model_validate({"source": {"uri": "s3://b-x/d.csv"}, **kw})


def test_identifier_and_regression_correlation() -> None:
    frame = regression_frame()
    frame["order_id"] = np.arange(len(frame))
    frame["email"] = [f"user{i}@example.com" for i in range(len(frame))]
    frame["target_copy"] = frame["target"] * 2 + 1
    y = frame["target"].to_numpy()
    cols = ("bmi", "order_id", "email", "target_copy", "sex")
    features = FeatureSet(cols, frozenset({"email", "sex"}))
    audit = audit_leakage(frame, y, features, task="regression", data=_spec(), seed=0)
    found = {f["column"]: f["check"] for f in audit.findings}
    assert found == {"order_id": "identifier", "email": "identifier", "target_copy": "correlation"}


def test_categorical_leak_via_target_rate_encoding() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=500)
    frame = pd.DataFrame({"status": np.where(y == 1, "closed-won", "closed-lost"), "x": rng.normal(size=500)})
    features = FeatureSet(("status", "x"), frozenset({"status"}))
    audit = audit_leakage(frame, y, features, task="binary-classification", data=_spec(), seed=0)
    assert [f["column"] for f in audit.failing] == ["status"]


def test_time_order_violation_is_flagged() -> None:
    frame = pd.DataFrame({"t": [1.0, 2.0, 9.0], "x": [0.1, 0.2, 0.3]})
    features = FeatureSet(("x",), frozenset())
    data = _spec(timeColumn="t")
    holdout = pd.Series([5.0, 6.0])
    y = np.array([0, 1, 0])
    task = "binary-classification"
    audit = audit_leakage(frame, y, features, task=task, data=data, seed=0, holdout_times=holdout)
    assert [f["check"] for f in audit.failing] == ["time-order"]
