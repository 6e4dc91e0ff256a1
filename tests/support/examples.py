"""The objects in ``examples/``, as the integration tests apply them (in the ``default`` namespace)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from mloop.local.datasets import credit_csv
from tests.support.plane import Plane
from tests.support.s3 import upload

__all__ = ["EXAMPLES", "example", "small_project"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> dict[str, Any]:
    """A fresh copy of ``examples/<name>``, moved to the ``default`` namespace."""
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((EXAMPLES / name).read_text()))
    body["metadata"]["namespace"] = "default"
    return body


def small_project(
    plane: Plane, key: str, *, uri: str | None = None, min_roc_auc: float | None = None
) -> None:
    """Create ``examples/mlproject.yaml`` on the plane's bucket with one fast candidate, trained on 1,500
    seeded credit rows uploaded to ``key`` (read from ``uri``, a file or a prefix; default: that file)."""
    upload(plane.s3, plane.bucket, key, credit_csv(1500, seed=7))
    project = example("mlproject.yaml")
    project["spec"]["storage"] = {"bucket": plane.bucket}
    project["spec"]["data"]["source"]["uri"] = f"s3://{plane.bucket}/{uri or key}"
    project["spec"]["training"]["candidates"] = [
        {"algorithm": "logistic_regression", "params": {"max_iter": 500}}
    ]
    if min_roc_auc is not None:
        project["spec"]["problem"]["kpis"] = [{"metric": "roc_auc", "min": min_roc_auc}]
    plane.kube.create(project)
