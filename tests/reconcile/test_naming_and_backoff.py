"""Child names are deterministic and valid; retry delays grow and stop at the cap."""

import re

import pytest

from mloop.reconcile.backoff import backoff_delay
from mloop.reconcile.naming import child_name
from mloop.reconcile.owners import child_labels, owner_reference

LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("credit-3", "train"), "credit-3-train"),
        (("Credit_Run", "train"), "credit-run-train"),
        (("web", "v1", "canary"), "web-v1-canary"),
    ],
)
def test_child_name_short(parts: tuple[str, ...], expected: str) -> None:
    assert child_name(*parts) == expected


def test_long_names_are_truncated_with_a_hash_and_stay_distinct() -> None:
    a = child_name("x" * 70, "train")
    b = child_name("x" * 71, "train")
    assert len(a) <= 63
    assert LABEL.match(a)
    assert a != b
    assert a == child_name("x" * 70, "train")


@pytest.mark.parametrize(
    ("retry", "hint", "expected"),
    [
        (0, None, 5.0),
        (1, None, 10.0),
        (3, None, 40.0),
        (10, None, 300.0),
        (50, None, 300.0),
        (0, 30.0, 30.0),
        (0, 900.0, 300.0),
    ],
)
def test_backoff(retry: int, hint: float | None, expected: float) -> None:
    assert backoff_delay(retry, base=5.0, cap=300.0, server_hint=hint) == expected


def test_owner_reference_and_labels() -> None:
    parent = {
        "apiVersion": "mloop.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "r", "uid": "u1"},
    }
    ref = owner_reference(parent)
    assert ref == {
        "apiVersion": "mloop.io/v1alpha1",
        "kind": "TrainingRun",
        "name": "r",
        "uid": "u1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    labels = child_labels(name="mloop-trainer", component="trainer", instance="r", project="credit")
    assert labels["app.kubernetes.io/part-of"] == "mloop"
    assert labels["mloop.io/project"] == "credit"
