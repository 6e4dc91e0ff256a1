"""Generated streams through ``run_check`` (local directories in the server's layout): the acceptance
behaviour of the checker — no alert on a stationary stream, shifts and new categories found, prediction
drift on its own, and too little data reported as such."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mloop.drift.check import CheckConfig, CheckRequest, run_check
from mloop.drift.storage import Storage
from tests.drift import support

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "reference.parquet"
    path.write_bytes(support.reference_parquet(np.random.default_rng(1), 5000))
    return path


def check(
    reference: Path, traffic: Path, window: int, config: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    start = support.T0 + window * HOUR
    request = CheckRequest(str(reference), str(traffic), start, start + HOUR, plot=False, **extra)
    report, _ = run_check(request, CheckConfig.parse(config or {}), Storage())
    return report


def test_stationary_stream_raises_no_alert_over_20_windows(reference: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    for w in range(20):
        support.write_dir(tmp_path, support.records(rng, 1000, support.T0 + w * HOUR))
    drifted = []
    for correction in ("bonferroni", "fdr"):
        config = {"detector": {"pValue": 0.05, "correction": correction}}
        flags = [check(reference, tmp_path, w, config)["drifted"] for w in range(20)]
        # the DriftMonitor alerts after alert.consecutiveWindows (default 2) drifted windows in a row
        assert not any(a and b for a, b in itertools.pairwise(flags)), flags
        drifted.append(sum(flags))
    # family-wise error <= 5% per window: about one stray window in 20 at most, never a pattern
    assert max(drifted) <= 2, drifted


def test_mean_shift_in_two_of_twenty_features_is_found_in_the_first_full_window(
    reference: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    shifted = {"num_03": 0.5, "num_11": 0.5}
    for w in range(2):
        support.write_dir(tmp_path, support.records(rng, 1000, support.T0 + w * HOUR))
    support.write_dir(tmp_path, support.records(rng, 1000, support.T0 + 2 * HOUR, shift=shifted))
    before = check(reference, tmp_path, 1)
    report = check(reference, tmp_path, 2)
    assert not before["drifted"]
    assert report["drifted"]
    assert set(shifted) <= set(report["driftedFeatures"])
    assert len(report["driftedFeatures"]) <= 3, report["driftedFeatures"]
    by_name = {f["name"]: f for f in report["features"]}
    assert by_name["num_03"]["test"] == "ks"
    assert by_name["num_03"]["pValueCorrected"] < 0.05
    assert report["detector"]["tests"] == 20


def test_new_category_is_detected_and_named(reference: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    support.write_dir(tmp_path, support.records(rng, 1000, support.T0, new_category=("cat_2", "omega", 0.05)))
    report = check(reference, tmp_path, 0, {"detector": {"correction": "fdr"}})
    by_name = {f["name"]: f for f in report["features"]}
    assert report["driftedFeatures"] == ["cat_2"]
    assert by_name["cat_2"]["test"] == "chi2"
    assert by_name["cat_2"]["unseenCategories"] == ["omega"]


def test_prediction_drift_alone_is_reported(reference: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    support.write_dir(tmp_path, support.records(rng, 1000, support.T0))  # baseline hour
    support.write_dir(tmp_path, support.records(rng, 1000, support.T0 + HOUR, prediction_shift=0.6))
    report = check(reference, tmp_path, 1, baseline_start=support.T0, baseline_end=support.T0 + HOUR)
    assert report["driftedFeatures"] == []
    assert report["drifted"] is True
    prediction = report["predictionDrift"]
    assert prediction["drifted"] is True
    assert prediction["test"] == "ks"
    assert prediction["source"] == "probabilities[1]"
    assert prediction["samples"] == {"baseline": 1000, "window": 1000}
    assert report["detector"]["tests"] == 21  # the prediction test is part of the corrected family
    # without a baseline period: null, and the report says why
    plain = check(reference, tmp_path, 1)
    assert plain["predictionDrift"] is None
    assert any("baseline" in n for n in plain["notes"])


def test_too_few_samples_is_insufficient_data_not_drift(reference: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    support.write_dir(tmp_path, support.records(rng, 50, support.T0, shift={"num_00": 3.0}))
    report = check(reference, tmp_path, 0, {"window": {"minSamples": 100}})
    assert report["insufficientData"] is True
    assert report["drifted"] is False
    assert report["samples"] == {"reference": 5000, "window": 50}
    assert report["features"] == []


def test_mmd_flags_a_joint_shift_and_stays_quiet_on_a_stationary_window(
    reference: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    support.write_dir(tmp_path, support.records(rng, 400, support.T0))
    support.write_dir(
        tmp_path, support.records(rng, 400, support.T0 + HOUR, shift={"num_01": 0.4, "num_02": 0.4})
    )
    config = {"detector": {"multivariate": "mmd"}}
    quiet = check(reference, tmp_path, 0, config, mmd_permutations=200)
    moved = check(reference, tmp_path, 1, config, mmd_permutations=200)
    assert quiet["multivariate"]["test"] == "mmd"
    assert not quiet["multivariate"]["drifted"]
    assert moved["multivariate"]["pValue"] < 0.01
