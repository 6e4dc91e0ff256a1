"""Slices, quality failures, the champion re-scoring and determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mloop.trainer.cli import main
from tests.trainer.support import binary_frame, project, regression_frame, run, sha256_file, write_project


def test_planted_weak_slice_shows_a_large_gap(tmp_path: Path) -> None:
    frame = binary_frame(1200)
    rng = np.random.default_rng(7)
    weak = (frame["region"] == "west").to_numpy()
    frame.loc[weak, "label"] = rng.integers(0, 2, size=int(weak.sum()))  # labels are noise there
    doc = project("binary-classification", "label", "roc_auc", slices=["region"], sliceMinRows=30)
    code, result = run(tmp_path, doc, frame)
    assert code == 0, result["message"]
    by_value = {s["value"]: s for s in result["slices"]}
    assert by_value["west"]["gap"] > 0.2
    assert all(by_value[v]["gap"] < 0.1 for v in ("north", "south", "east"))
    assert by_value["west"]["gated"]
    assert by_value["west"]["rows"] >= 30


def test_small_slices_are_reported_but_not_gated(tmp_path: Path) -> None:
    frame = binary_frame(600)
    frame.loc[:11, "region"] = "island"
    doc = project("binary-classification", "label", "roc_auc", slices=["region"], sliceMinRows=30)
    code, result = run(tmp_path, doc, frame)
    assert code == 0
    island = [s for s in result["slices"] if s["value"] == "island"]
    assert island == [] or not island[0]["gated"]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f.head(40), "TooFewRows"),
        (lambda f: f.assign(f1=np.where(np.arange(len(f)) % 4 == 0, 1.0, np.nan)), "TooManyMissing"),
        (lambda f: f.drop(columns=["label"]), "TargetMissing"),
        (lambda f: f.assign(label=1), "SingleClassTarget"),
        (lambda f: f.assign(label=np.arange(len(f)) % 3), "TaskMismatch"),
        (
            lambda f: f.assign(f2=f["f2"].round(0), f3=0, f4=0, f5=0, f0=0, f1=0, region="x"),
            "TooManyDuplicates",
        ),
    ],
)
def test_quality_failures(tmp_path: Path, mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    code, result = run(
        tmp_path, project("binary-classification", "label", "roc_auc"), mutate(binary_frame(400))
    )
    assert code == 1
    assert result["status"] == "failed", result["message"]
    assert result["reason"] == reason, result["message"]
    if reason == "TooManyMissing":
        assert "'f1'" in result["message"]
    assert result["stages"][-1]["name"] == "DataValidated"
    assert result["stages"][-1]["status"] == "False"


def test_nested_column_is_unsupported(tmp_path: Path) -> None:
    frame = binary_frame(300)
    frame["tags"] = [[1, 2]] * len(frame)
    frame.to_parquet(tmp_path / "data.parquet")
    proj = write_project(tmp_path, project("binary-classification", "label", "roc_auc"))
    code = main(
        ["--project", str(proj), "--data", str(tmp_path / "data.parquet"), "--output", str(tmp_path / "o")]
    )
    result = json.loads((tmp_path / "o" / "result.json").read_text())
    assert code == 1
    assert result["reason"] == "UnsupportedColumnType"
    assert "tags" in result["message"]


def test_pinned_digest_mismatch_and_usage_errors(tmp_path: Path) -> None:
    code, result = run(tmp_path, project("binary-classification", "label", "roc_auc"), binary_frame(300),
                       "--data-sha256", "0" * 64)  # fmt: skip
    assert code == 1
    assert result["reason"] == "DataDigestMismatch"
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: {owner: x}\n")
    assert main(["--project", str(bad), "--data", "x.csv", "--output", str(tmp_path / "u")]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["--data", "x.csv"])
    assert exc.value.code == 2


def test_champion_is_rescored_on_the_same_test_rows(tmp_path: Path) -> None:
    frame = binary_frame(600)
    doc = project("binary-classification", "label", "roc_auc")
    _, first = run(tmp_path, doc, frame, out="first")
    champion = first["artifacts"]["model"]["uri"]
    code, second = run(tmp_path, doc, frame, "--champion", champion, out="second")
    assert code == 0
    assert second["championComparable"] is True
    # same data, seed and model: the champion re-scored on this run's sealed test rows reproduces them
    for name, value in first["metrics"]["test"].items():
        assert second["metrics"]["champion"][name] == pytest.approx(value, abs=1e-5)


def test_incompatible_champion_is_reported(tmp_path: Path) -> None:
    _, reg = run(tmp_path, project("regression", "target", "rmse"), regression_frame(), out="reg")
    code, result = run(tmp_path, project("binary-classification", "label", "roc_auc"), binary_frame(400),
                       "--champion", reg["artifacts"]["model"]["uri"], out="clf")  # fmt: skip
    assert code == 0
    assert result["championComparable"] is False
    assert result["championReason"]
    assert "champion" not in result["metrics"]


def test_same_run_twice_is_identical(tmp_path: Path) -> None:
    frame = binary_frame(500)
    doc = project("binary-classification", "label", "f1")
    _, a = run(tmp_path, doc, frame, out="a")
    _, b = run(tmp_path, doc, frame, out="b")
    assert a["metrics"] == b["metrics"]
    assert a["configDigest"] == b["configDigest"]
    assert a["artifacts"]["model"]["sha256"] == b["artifacts"]["model"]["sha256"]
    assert sha256_file(a["artifacts"]["reference"]["uri"]) == sha256_file(b["artifacts"]["reference"]["uri"])
    _, c = run(tmp_path, doc, frame, "--seed", "7", out="c")
    assert c["configDigest"] != a["configDigest"]
