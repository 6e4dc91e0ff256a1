"""Training on served traffic: logged requests joined with the labels sent to ``/feedback`` (SPEC §3 layout).

Shared by the MLProject (``retraining.feedback``: the opt-in for drift-triggered runs) and the TrainingRun
(``feedback``: which deployment's log a run adds). The descriptions carry the join's rules because they
become ``kubectl explain`` text and the README reference.
"""

from __future__ import annotations

from pydantic import Field

from mloop.api.common import ApiModel, Duration, LocalObjectReference

__all__ = ["DEFAULT_FEEDBACK_MAX_ROWS", "FeedbackData", "RetrainingFeedback"]

DEFAULT_FEEDBACK_MAX_ROWS = 100_000
_MAX_ROWS_LIMIT = 10_000_000

_MAX_ROWS_TEXT = (
    "Most rows added from the log, the newest kept (default 100000), so a busy endpoint cannot crowd out "
    "the source data."
)
_MAX_AGE_TEXT = (
    "Only requests logged within this period before the run was created, e.g. 720h; default: every "
    "logged request."
)


class FeedbackData(ApiModel):
    """Logged traffic of one ModelDeployment joined with its feedback labels, added to the training data."""

    deployment_ref: LocalObjectReference = Field(
        description="ModelDeployment whose request log (<project prefix>/traffic/<name>/, every version) "
        "and feedback log (<project prefix>/feedback/<name>/) are read from the project's bucket."
    )
    max_rows: int = Field(
        default=DEFAULT_FEEDBACK_MAX_ROWS, ge=1, le=_MAX_ROWS_LIMIT, description=_MAX_ROWS_TEXT
    )
    max_age: Duration | None = Field(default=None, description=_MAX_AGE_TEXT)


class RetrainingFeedback(ApiModel):
    """Opt-in: drift-triggered runs also train on the drifting deployment's labelled traffic."""

    enabled: bool = Field(
        default=True,
        description="Fill spec.feedback of every TrainingRun a DriftMonitor creates with the monitor's "
        "deployment (default true once this block is present; false keeps the settings but turns it off). "
        "New labels then also change the data digest, so they may trigger a new run after the cooldown.",
    )
    max_rows: int = Field(
        default=DEFAULT_FEEDBACK_MAX_ROWS, ge=1, le=_MAX_ROWS_LIMIT, description=_MAX_ROWS_TEXT
    )
    max_age: Duration | None = Field(default=None, description=_MAX_AGE_TEXT)
