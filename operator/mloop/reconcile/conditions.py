"""Standard Kubernetes conditions, set without churn: a settled object must cost zero writes.

``lastTransitionTime`` moves only when a condition's status flips, so writing the same verdict twice yields
the same status and the orchestration layer can skip the write entirely.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from mloop.api.common import Condition

__all__ = [
    "ConditionChange",
    "Verdict",
    "aggregate_ready",
    "find_condition",
    "ready_transition",
    "set_condition",
]

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Verdict:
    """One condition as a decision function wants it, before timestamps are attached."""

    type: str
    status: Status
    reason: str
    message: str = ""


@dataclass(frozen=True)
class ConditionChange:
    """A condition whose status or reason changed: the moments that deserve an Event."""

    type: str
    status: Status
    reason: str
    message: str
    previous_status: Status | None
    previous_reason: str | None


def find_condition(conditions: Iterable[Condition] | None, type_: str) -> Condition | None:
    for condition in conditions or ():
        if condition.type == type_:
            return condition
    return None


def set_condition(
    conditions: Sequence[Condition] | None, verdict: Verdict, *, generation: int | None, now: datetime
) -> list[Condition]:
    """Return ``conditions`` with ``verdict`` applied; order is kept, a new type is appended."""
    current = list(conditions or ())
    index = next((n for n, c in enumerate(current) if c.type == verdict.type), None)
    previous = current[index] if index is not None else None
    keep_time = previous is not None and previous.status == verdict.status
    updated = Condition(
        type=verdict.type,
        status=verdict.status,
        reason=verdict.reason,
        message=verdict.message,
        last_transition_time=previous.last_transition_time if keep_time and previous else now,
        observed_generation=generation,
    )
    if index is None:
        return [*current, updated]
    current[index] = updated
    return current


def aggregate_ready(verdicts: Sequence[Verdict], *, ready_reason: str = "Ready") -> Verdict:
    """``Ready`` is True only when every contributing condition is True; the first failure explains it."""
    for verdict in verdicts:
        if verdict.status != "True":
            return Verdict(
                "Ready", "False" if verdict.status == "False" else "Unknown", verdict.reason, verdict.message
            )
    return Verdict("Ready", "True", ready_reason, "")


def ready_transition(
    before: Sequence[Condition] | None, after: Sequence[Condition]
) -> ConditionChange | None:
    """The change of the ``Ready`` condition between two statuses, if its status or reason moved."""
    old = find_condition(before, "Ready")
    new = find_condition(after, "Ready")
    if new is None:
        return None
    if old is not None and old.status == new.status and old.reason == new.reason:
        return None
    return ConditionChange(
        type="Ready",
        status=new.status,
        reason=new.reason or "",
        message=new.message or "",
        previous_status=old.status if old else None,
        previous_reason=old.reason if old else None,
    )
