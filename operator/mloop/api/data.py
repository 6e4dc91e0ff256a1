"""The data part of an MLProject: source, features, quality rules, split and leakage settings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from mloop.api.common import ApiModel, CelRule, ColumnName, S3Uri

__all__ = [
    "DATA_CEL_RULES",
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_VALIDATION_FRACTION",
    "ColumnList",
    "DataQuality",
    "DataSource",
    "DataSpec",
    "FeatureSelection",
    "Split",
]

DEFAULT_VALIDATION_FRACTION = 0.2
DEFAULT_TEST_FRACTION = 0.2
ColumnList = Annotated[list[ColumnName], Field(max_length=512)]


class DataSource(ApiModel):
    """Where the training data lives."""

    uri: S3Uri = Field(
        description="s3://bucket/key of a CSV or Parquet object, or a prefix ending in / (all parts)."
    )
    format: Literal["auto", "csv", "parquet"] = Field(
        default="auto", description="File format; auto infers it from the key suffix (.csv, .parquet)."
    )


class FeatureSelection(ApiModel):
    """Which columns become features and how they are encoded."""

    include: ColumnList = Field(default_factory=list, description="Use only these columns; empty means all.")
    exclude: ColumnList = Field(default_factory=list, description="Never use these columns.")
    categorical: ColumnList = Field(
        default_factory=list, description="Treat as categorical (one-hot) even if numeric, e.g. zip codes."
    )
    numeric: ColumnList = Field(default_factory=list, description="Treat as numeric even if stored as text.")


class DataQuality(ApiModel):
    """Rules checked before training; a breach fails the run with reason DataQuality."""

    min_rows: int = Field(default=100, ge=1, description="Fewest rows accepted after loading (default 100).")
    max_missing_fraction: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Largest share of missing values in any column (default 0.5).",
    )
    max_duplicate_fraction: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Largest share of fully duplicated rows (default 0.1)."
    )


class Split(ApiModel):
    """How rows are divided into train, validation and the sealed test set."""

    strategy: Literal["random", "stratified", "time", "group"] = Field(
        default="random",
        description="random; stratified (by target, classification only); time (needs data.timeColumn, "
        "test is the latest rows); group (needs data.groupColumn, a group never spans two sets).",
    )
    validation_fraction: float = Field(
        default=DEFAULT_VALIDATION_FRACTION,
        gt=0.0,
        lt=1.0,
        description="Share of rows for validation (hyperparameter search); default 0.2.",
    )
    test_fraction: float = Field(
        default=DEFAULT_TEST_FRACTION,
        gt=0.0,
        lt=1.0,
        description="Share of rows for the sealed test set, used once at the end; default 0.2.",
    )
    seed: int = Field(default=42, ge=0, le=2**31 - 1, description="Random seed of the split; default 42.")

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> Split:
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError("validationFraction + testFraction must be below 1.0")
        return self


class DataSpec(ApiModel):
    """The data, its validation, its split and how it is audited."""

    source: DataSource = Field(description="Location and format of the data.")
    features: FeatureSelection | None = Field(
        default=None, description="Feature selection; default: all columns."
    )
    time_column: ColumnName | None = Field(
        default=None,
        description="Event-time column; required by split strategy time and checked for leakage.",
    )
    group_column: ColumnName | None = Field(
        default=None, description="Group id column (e.g. customer); required by split strategy group."
    )
    forbidden_columns: ColumnList = Field(
        default_factory=list,
        description="Columns known to leak the outcome (future or post-outcome fields); always dropped.",
    )
    allow_leaky_features: bool = Field(
        default=False,
        description="If true, features flagged by the leakage audit are reported but do not fail the run.",
    )
    allowed_leaky_columns: ColumnList = Field(
        default_factory=list,
        description="Columns the leakage audit may flag without failing the run (reviewed exceptions).",
    )
    quality: DataQuality = Field(
        default_factory=DataQuality, description="Data quality rules.", json_schema_extra={"default": {}}
    )
    split: Split = Field(
        default_factory=Split, description="Train/validation/test split.", json_schema_extra={"default": {}}
    )
    slices: ColumnList = Field(
        default_factory=list, description="Columns whose every value is evaluated separately on the test set."
    )
    slice_min_rows: int = Field(
        default=30, ge=1, description="Slices with fewer test rows are reported but not gated (default 30)."
    )
    sensitive_features: ColumnList = Field(
        default_factory=list,
        description="Columns for which fairness gaps (metric spread across values) are reported.",
    )

    @model_validator(mode="after")
    def _split_columns_present(self) -> DataSpec:
        if self.split.strategy == "time" and not self.time_column:
            raise ValueError("split.strategy time requires data.timeColumn")
        if self.split.strategy == "group" and not self.group_column:
            raise ValueError("split.strategy group requires data.groupColumn")
        return self


DATA_CEL_RULES: tuple[CelRule, ...] = (
    CelRule(
        "spec.data.split",
        f"(has(self.validationFraction) ? double(self.validationFraction) : {DEFAULT_VALIDATION_FRACTION}) + "
        f"(has(self.testFraction) ? double(self.testFraction) : {DEFAULT_TEST_FRACTION}) < 1.0",
        "validationFraction + testFraction must be below 1.0",
    ),
    CelRule(
        "spec.data",
        "!has(self.split) || !has(self.split.strategy) || self.split.strategy != 'time' "
        "|| has(self.timeColumn)",
        "split strategy time requires data.timeColumn",
        field_path=".timeColumn",
    ),
    CelRule(
        "spec.data",
        "!has(self.split) || !has(self.split.strategy) || self.split.strategy != 'group' "
        "|| has(self.groupColumn)",
        "split strategy group requires data.groupColumn",
        field_path=".groupColumn",
    ),
)
