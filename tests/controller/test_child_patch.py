"""A child is patched only when a field we set differs; server defaults cost nothing, and the keys we stop
setting in a map we own whole (a Service's selector) are removed by the patch."""

from __future__ import annotations

from typing import Any

import pytest

from mloop.controller.serving import child_patch

LABELS = {"app.kubernetes.io/part-of": "mloop"}


def child(spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "credit", "labels": dict(LABELS if labels is None else labels)},
        "spec": spec,
    }


ROUTE_SPEC = {"rules": [{"backendRefs": [{"name": "credit-stable", "weight": 100}]}]}
ROUTE_AS_STORED = {
    "rules": [
        {
            "backendRefs": [{"group": "", "kind": "Service", "name": "credit-stable", "weight": 100}],
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        }
    ]
}


@pytest.mark.parametrize(
    ("desired", "current", "replace", "expected"),
    [
        # settled, with defaults the server added: no write
        (child(ROUTE_SPEC), child(ROUTE_AS_STORED), (), None),
        (
            child({"selector": {"a": "1"}}),
            child({"selector": {"a": "1"}, "clusterIP": "10.0.0.1"}),
            ("selector",),
            None,
        ),
        # a weight moved
        (
            child({"rules": [{"backendRefs": [{"name": "credit-stable", "weight": 90}]}]}),
            child(ROUTE_AS_STORED),
            (),
            {
                "spec": {"rules": [{"backendRefs": [{"name": "credit-stable", "weight": 90}]}]},
                "metadata": {"labels": LABELS},
            },
        ),
        # a key dropped from an owned map is sent as null; without `replace` it would linger
        (
            child({"selector": {"a": "1"}}),
            child({"selector": {"a": "1", "version": "v1"}}),
            ("selector",),
            {"spec": {"selector": {"a": "1", "version": None}}, "metadata": {"labels": LABELS}},
        ),
        (child({"selector": {"a": "1"}}), child({"selector": {"a": "1", "version": "v1"}}), (), None),
        # labels we set are brought back too
        (
            child({"replicas": 1}),
            child({"replicas": 1}, labels={}),
            (),
            {"spec": {"replicas": 1}, "metadata": {"labels": LABELS}},
        ),
    ],
)
def test_child_patch(
    desired: dict[str, Any],
    current: dict[str, Any],
    replace: tuple[str, ...],
    expected: dict[str, Any] | None,
) -> None:
    assert child_patch(desired, current, replace=replace) == expected
