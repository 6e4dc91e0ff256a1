"""Helpers for trainer tests: small generated datasets, project files and in-process runs."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes, load_wine, make_classification

from mloop.trainer.cli import main

FAST_CANDIDATES: list[dict[str, Any]] = [
    {"algorithm": "logistic_regression", "search": {"type": "grid", "space": {"C": [0.3, 1.0]}}},
    {"algorithm": "random_forest", "params": {"n_estimators": 15, "max_depth": 6}},
]


def project(task: str, target: str, metric: str, **data: Any) -> dict[str, Any]:
    """A whole MLProject object with fast candidates; ``data`` keys are merged into spec.data."""
    candidates = copy.deepcopy(FAST_CANDIDATES)
    if task == "regression":
        candidates = [
            {"algorithm": "ridge", "search": {"type": "grid", "space": {"alpha": [0.1, 1.0]}}},
            {"algorithm": "gradient_boosting", "params": {"n_estimators": 30, "max_depth": 3}},
        ]
    training = data.pop("training", {"candidates": candidates})
    return {
        "apiVersion": "mloop.io/v1alpha1",
        "kind": "MLProject",
        "metadata": {"name": "demo", "namespace": "default"},
        "spec": {
            "owner": "team-ml",
            "description": "A test project.",
            "problem": {"task": task, "target": target, "primaryMetric": metric},
            "data": {"source": {"uri": "s3://unused-bucket/data.csv"}, **data},
            "training": training,
            "storage": {"bucket": "unused-bucket"},
        },
    }


def write_project(tmp: Path, doc: dict[str, Any], name: str = "project.json") -> Path:
    path = tmp / name
    path.write_text(json.dumps(doc))
    return path


def binary_frame(n: int = 800, seed: int = 0) -> pd.DataFrame:
    x, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        flip_y=0.05,
        class_sep=0.8,
        random_state=seed,
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    rng = np.random.default_rng(seed)
    frame["region"] = rng.choice(["north", "south", "east", "west"], size=n)
    frame.loc[rng.random(n) < 0.05, "f0"] = np.nan
    frame["label"] = y
    return frame


def multiclass_frame() -> pd.DataFrame:
    wine = load_wine(as_frame=True).frame
    return wine.rename(columns={"target": "cultivar"})


def regression_frame() -> pd.DataFrame:
    """Diabetes with the target in hundreds, so float32 ONNX values can match to 1e-4 absolutely."""
    frame = load_diabetes(as_frame=True).frame
    frame["target"] = frame["target"] / 100.0
    frame["sex"] = np.where(frame["sex"] > 0, "m", "f")
    return frame


def run(
    tmp: Path, doc: dict[str, Any], frame: pd.DataFrame | None, *extra: str, out: str = "out"
) -> tuple[int, dict[str, Any]]:
    """Run the trainer in-process (the CLI's real ``main``); return the exit code and result.json."""
    data = tmp / "data.csv"
    if frame is not None:
        frame.to_csv(data, index=False)
    proj = write_project(tmp, doc)
    code = main(["--project", str(proj), "--data", str(data), "--output", str(tmp / out), *extra])
    result_path = tmp / out / "result.json"
    return code, json.loads(result_path.read_text()) if result_path.exists() else {}


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
