"""The four split strategies as pure functions, end to end for time and group, and the sealed test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mloop.api.data import DataSpec
from mloop.trainer.split import SealedTestSet, TestRows, plan_split
from tests.trainer.support import binary_frame, project, run


def _frame(n: int = 1000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=n, freq="h").to_numpy()[rng.permutation(n)],
            "customer": rng.integers(0, 80, size=n).astype(str),
            "x": rng.normal(size=n),
        }
    )
    y = (rng.random(n) < 0.2).astype(int)
    return frame, y


def _data(**split: object) -> DataSpec:
    return DataSpec.model_validate(
        {"source": {"uri": "s3://b-x/d.csv"}, "timeColumn": "ts", "groupColumn": "customer", "split": split}
    )


@pytest.mark.parametrize("strategy", ["random", "stratified", "time", "group"])
def test_sets_are_disjoint_and_cover_every_row(strategy: str) -> None:
    frame, y = _frame()
    plan = plan_split(frame, y, _data(strategy=strategy, validationFraction=0.2, testFraction=0.25), seed=3)
    together = np.concatenate([plan.train, plan.validation, plan.test])
    assert sorted(together.tolist()) == list(range(len(frame)))
    if strategy in ("random", "stratified", "time"):
        assert len(plan.test) == 250
        assert len(plan.validation) == 200
    else:  # whole groups: close to the fractions, never exact
        assert 200 <= len(plan.test) <= 330
        assert 150 <= len(plan.validation) <= 280


def test_stratified_keeps_class_shares() -> None:
    frame, y = _frame()
    plan = plan_split(frame, y, _data(strategy="stratified"), seed=3)
    for part in (plan.train, plan.validation, plan.test):
        assert abs(y[part].mean() - y.mean()) < 0.02


def test_time_split_tests_on_the_latest_rows() -> None:
    frame, y = _frame()
    plan = plan_split(frame, y, _data(strategy="time"), seed=3)
    ts = frame["ts"]
    assert ts.iloc[plan.train].max() < ts.iloc[plan.validation].min()
    assert ts.iloc[plan.validation].max() < ts.iloc[plan.test].min()


def test_group_split_never_shares_a_group() -> None:
    frame, y = _frame()
    plan = plan_split(frame, y, _data(strategy="group"), seed=3)
    groups = [set(frame["customer"].iloc[p]) for p in (plan.train, plan.validation, plan.test)]
    assert not (groups[0] & groups[1])
    assert not (groups[0] & groups[2])
    assert not (groups[1] & groups[2])


def test_split_is_seeded() -> None:
    frame, y = _frame()
    a = plan_split(frame, y, _data(strategy="random"), seed=5)
    b = plan_split(frame, y, _data(strategy="random"), seed=5)
    c = plan_split(frame, y, _data(strategy="random"), seed=6)
    assert np.array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_sealed_test_set_opens_once() -> None:
    sealed = SealedTestSet(TestRows(pd.DataFrame(), pd.DataFrame(), np.array([])))
    sealed.open()
    with pytest.raises(RuntimeError, match="already opened"):
        sealed.open()


@pytest.mark.parametrize("strategy", ["time", "group"])
def test_time_and_group_runs_end_to_end(tmp_path: Path, strategy: str) -> None:
    frame = binary_frame(600)
    frame["when"] = pd.date_range("2023-01-01", periods=len(frame), freq="D").astype(str)
    frame["account"] = [f"acct-{i % 60}" for i in range(len(frame))]
    doc = project(
        "binary-classification", "label", "roc_auc", timeColumn="when", groupColumn="account",
        split={"strategy": strategy},
    )  # fmt: skip
    code, result = run(tmp_path, doc, frame)
    assert code == 0, result["message"]
    assert result["split"]["strategy"] == strategy
    assert sum(result["split"]["sizes"].values()) == len(frame)
    features = [i["name"] for i in result["signature"]["inputs"]]
    assert "when" not in features
    assert "account" not in features
