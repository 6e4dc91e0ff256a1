"""Which ModelDeployment and DriftMonitor events reconcile at once, bypassing a change handler that sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from mloop.controller.handlers import acts_at_once, spec_is_newer


def body(
    *,
    generation: int = 3,
    observed: int | None = 3,
    annotations: dict[str, str] | None = None,
    **handled: str,
) -> dict[str, Any]:
    status: dict[str, Any] = {"handledActions": handled}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"generation": generation, "annotations": annotations or {}}, "status": status}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (body(), False),  # settled: the resync and the change handler are enough
        (body(generation=4), True),  # a new spec (a new versionRef mid-canary)
        (body(generation=1, observed=None), False),  # never reconciled: the create handler does it
        ({"metadata": {"name": "x"}}, False),
        (body(annotations={"mloop.io/abort": "t1"}), True),  # a new request
        (body(annotations={"mloop.io/abort": "t1"}, abort="t1"), False),  # already acted on
        (body(annotations={"mloop.io/abort": "t2"}, abort="t1"), True),  # asked again
        (body(annotations={"mloop.io/promote": "now"}), True),
        (body(annotations={"mloop.io/rollback": "now"}, abort="now"), True),  # handled per action
        (body(annotations={"mloop.io/abort": ""}), False),  # an emptied annotation asks nothing
        (body(annotations={"mloop.io/approved-by": "ann"}), False),  # not a deployment action
    ],
)
def test_acts_at_once(obj: dict[str, Any], expected: bool) -> None:
    assert acts_at_once(obj) is expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (body(), False),  # settled: the next window's reconcile is soon enough
        (body(generation=4), True),  # a DriftMonitor edited mid-window acts now
        (body(generation=1, observed=None), False),  # never reconciled: the create handler does it
        (body(annotations={"mloop.io/abort": "t1"}), False),  # annotations are not a spec change
    ],
)
def test_spec_is_newer(obj: dict[str, Any], expected: bool) -> None:
    assert spec_is_newer(obj) is expected
