"""MLProject decisions: from what the storage and data checks saw to the status the project should show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mloop.api.mlproject import MLProjectStatus
from mloop.reconcile.conditions import Verdict, aggregate_ready, set_condition

__all__ = [
    "ProjectChecks",
    "invalid_spec_status",
    "plan_project_status",
]

STORAGE_READY = "StorageReady"
DATA_AVAILABLE = "DataAvailable"


@dataclass(frozen=True)
class ProjectChecks:
    """Outcomes of the I/O the orchestration did, as verdicts; ``retry`` says whether waiting can help."""

    storage: Verdict
    data: Verdict

    @property
    def retry(self) -> bool:
        return self.storage.status != "True" or self.data.status != "True"


def plan_project_status(
    previous: MLProjectStatus, checks: ProjectChecks, *, generation: int | None, now: datetime
) -> MLProjectStatus:
    """The status a project should have: its checks as conditions and ``Ready`` as their aggregate.

    Fields other reconcilers own (champion, latest run, counts) are carried over unchanged.
    """
    verdicts = [checks.storage, checks.data]
    ready = aggregate_ready(verdicts)
    conditions = list(previous.conditions)
    for verdict in (*verdicts, ready):
        conditions = set_condition(conditions, verdict, generation=generation, now=now)
    return previous.model_copy(
        update={
            "observed_generation": generation,
            "conditions": conditions,
            "phase": "Ready" if ready.status == "True" else "NotReady",
        }
    )


def invalid_spec_status(
    previous: MLProjectStatus, message: str, *, generation: int | None, now: datetime
) -> MLProjectStatus:
    """A spec the models reject: ``Ready=False InvalidSpec``; nothing else is checked until it changes."""
    verdict = Verdict("Ready", "False", "InvalidSpec", message)
    return previous.model_copy(
        update={
            "observed_generation": generation,
            "conditions": set_condition(previous.conditions, verdict, generation=generation, now=now),
            "phase": "Invalid",
        }
    )
