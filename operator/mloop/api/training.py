"""The training part of an MLProject: candidates, hyperparameter search, resources (also used by runs)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from mloop.api.common import ApiModel, CelRule, Duration, FreeForm, ImageRef, ResourceRequirements

__all__ = [
    "CLASSIFICATION_ONLY_ALGORITHMS",
    "REGRESSION_ONLY_ALGORITHMS",
    "TRAINING_CEL_RULES",
    "UNIQUE_CANDIDATES_MESSAGE",
    "UNIQUE_CANDIDATES_RULE",
    "Algorithm",
    "Candidate",
    "Search",
    "Training",
    "unique_candidates",
]

Algorithm = Literal[
    "logistic_regression",
    "linear_regression",
    "ridge",
    "random_forest",
    "gradient_boosting",
    "hist_gradient_boosting",
]
REGRESSION_ONLY_ALGORITHMS: tuple[str, ...] = ("linear_regression", "ridge")
CLASSIFICATION_ONLY_ALGORITHMS: tuple[str, ...] = ("logistic_regression",)
_NAME = "(has({v}.name) ? {v}.name : {v}.algorithm)"
#: CEL for a list of candidates: effective names (name, else algorithm) are unique.
UNIQUE_CANDIDATES_RULE = f"self.all(c, self.exists_one(d, {_NAME.format(v='d')} == {_NAME.format(v='c')}))"
UNIQUE_CANDIDATES_MESSAGE = "candidate names must be unique (name defaults to the algorithm)"


class Search(ApiModel):
    """Hyperparameter search on the validation set."""

    type: Literal["grid", "random"] = Field(
        default="grid", description="grid tries every combination; random samples."
    )
    space: FreeForm = Field(
        default_factory=dict,
        max_length=32,
        description="Parameter name to a list of values (grid or random), or {low, high, log} (random only).",
    )
    max_trials: int = Field(
        default=20, ge=1, le=1000, description="Most trials for this candidate (default 20)."
    )

    @model_validator(mode="after")
    def _grid_needs_lists(self) -> Search:
        if self.type == "grid":
            for name, values in self.space.items():
                if not isinstance(values, list):
                    # pydantic turns only ValueError into a validation error
                    raise ValueError(f"search.space.{name}: grid search needs a list of values")  # noqa: TRY004
        return self


class Candidate(ApiModel):
    """One model family to train and tune; the best on validation is evaluated on the test set."""

    name: (
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$", max_length=63)] | None
    ) = Field(default=None, description="Unique name of the candidate; default: the algorithm.")
    algorithm: Algorithm = Field(description="scikit-learn estimator family.")
    params: FreeForm = Field(
        default_factory=dict, max_length=64, description="Fixed estimator parameters, e.g. {max_depth: 5}."
    )
    search: Search | None = Field(default=None, description="Hyperparameter search; default: params only.")

    @property
    def effective_name(self) -> str:
        """Name used in results and trials: the explicit name, else the algorithm."""
        return self.name or self.algorithm


class Training(ApiModel):
    """How candidates are trained."""

    candidates: list[Candidate] = Field(min_length=1, max_length=16, description="Model families to try.")
    resources: ResourceRequirements | None = Field(default=None, description="Resources of the training pod.")
    timeout: Duration = Field(default="1h", description="Deadline of the training Job (default 1h).")
    image: ImageRef | None = Field(
        default=None, description="Trainer image override; default: the operator's."
    )

    @field_validator("candidates")
    @classmethod
    def _unique_names(cls, candidates: list[Candidate]) -> list[Candidate]:
        return unique_candidates(candidates)


def unique_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Reject two candidates with the same effective name: results and trials are keyed by it."""
    names = [c.effective_name for c in candidates]
    if len(names) != len(set(names)):
        raise ValueError(UNIQUE_CANDIDATES_MESSAGE)
    return candidates


TRAINING_CEL_RULES: tuple[CelRule, ...] = (
    CelRule("spec.training.candidates", UNIQUE_CANDIDATES_RULE, UNIQUE_CANDIDATES_MESSAGE),
)
