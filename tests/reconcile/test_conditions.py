"""Conditions move their transition time only when their status flips, so settled objects write nothing."""

from datetime import UTC, datetime, timedelta

import pytest

from mloop.api.common import Condition
from mloop.reconcile.conditions import Verdict, aggregate_ready, ready_transition, set_condition

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_new_condition_is_appended_with_now() -> None:
    result = set_condition([], Verdict("Ready", "True", "Ready"), generation=3, now=T0)
    assert [(c.type, c.status, c.last_transition_time, c.observed_generation) for c in result] == [
        ("Ready", "True", T0, 3)
    ]


def test_same_status_keeps_transition_time_but_updates_reason_and_generation() -> None:
    before = set_condition([], Verdict("Ready", "False", "DataNotFound", "a"), generation=1, now=T0)
    after = set_condition(before, Verdict("Ready", "False", "StorageUnavailable", "b"), generation=2, now=T1)
    assert after[0].last_transition_time == T0
    assert (after[0].reason, after[0].message, after[0].observed_generation) == ("StorageUnavailable", "b", 2)


def test_flip_moves_transition_time_and_keeps_order() -> None:
    before = [
        Condition(type="A", status="True", reason="x", last_transition_time=T0),
        Condition(type="Ready", status="False", reason="y", last_transition_time=T0),
    ]
    after = set_condition(before, Verdict("Ready", "True", "Ready"), generation=1, now=T1)
    assert [c.type for c in after] == ["A", "Ready"]
    assert after[1].last_transition_time == T1


def test_reapplying_the_same_verdict_is_idempotent() -> None:
    verdict = Verdict("Ready", "False", "DataNotFound", "missing")
    once = set_condition([], verdict, generation=1, now=T0)
    twice = set_condition(once, verdict, generation=1, now=T1)
    assert once == twice


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([Verdict("A", "True", "ok"), Verdict("B", "True", "ok")], ("True", "Ready")),
        ([Verdict("A", "False", "Broken", "m"), Verdict("B", "True", "ok")], ("False", "Broken")),
        ([Verdict("A", "True", "ok"), Verdict("B", "Unknown", "Waiting")], ("Unknown", "Waiting")),
        ([Verdict("A", "Unknown", "Waiting"), Verdict("B", "False", "Broken")], ("Unknown", "Waiting")),
    ],
)
def test_aggregate_ready(verdicts: list[Verdict], expected: tuple[str, str]) -> None:
    ready = aggregate_ready(verdicts)
    assert (ready.status, ready.reason) == expected


def test_ready_transition_only_on_status_or_reason_change() -> None:
    a = set_condition([], Verdict("Ready", "False", "DataNotFound"), generation=1, now=T0)
    b = set_condition(a, Verdict("Ready", "False", "DataNotFound", "other message"), generation=1, now=T1)
    c = set_condition(b, Verdict("Ready", "False", "StorageUnavailable"), generation=1, now=T1)
    d = set_condition(c, Verdict("Ready", "True", "Ready"), generation=1, now=T1)
    assert ready_transition(None, a) is not None
    assert ready_transition(a, b) is None
    change = ready_transition(b, c)
    assert change is not None
    assert (change.previous_reason, change.reason) == ("DataNotFound", "StorageUnavailable")
    change = ready_transition(c, d)
    assert change is not None
    assert (change.previous_status, change.status) == ("False", "True")
