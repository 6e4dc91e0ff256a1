"""Types shared by every mloop kind: the model base, conditions, metadata, references, durations.

These models are the single source of the CRDs in ``crds/``: every ``description=`` becomes
``kubectl explain`` text and every constraint becomes part of the structural schema, so the API
server, the operator and the workload programs reject the same bad specs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

__all__ = [
    "DURATION_PATTERN",
    "NAME_PATTERN",
    "NULLABLE",
    "S3_URI_PATTERN",
    "ApiModel",
    "CelRule",
    "ColumnName",
    "Condition",
    "ConditionStatus",
    "Cron",
    "Duration",
    "FreeForm",
    "ImageRef",
    "KubeName",
    "LocalObjectReference",
    "MetricValues",
    "ObjectMeta",
    "OwnerReference",
    "Quantity",
    "ResourceRequirements",
    "S3Uri",
    "SecretKeyReference",
    "Sha256",
    "SliceMetrics",
    "StatusBase",
    "StatusModel",
    "parse_duration",
]

#: Go-style duration as Kubernetes users write it: "90s", "5m", "1h30m", "250ms".
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
#: A DNS-1123 subdomain: the name of any namespaced Kubernetes object.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: An S3 object or prefix URI: ``s3://<bucket>/<key>``.
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$"

#: Field ``json_schema_extra`` marker: the CRD keeps ``nullable: true`` because ``null`` means something.
NULLABLE: dict[str, Any] = {"x-mloop-nullable": True}

Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN, max_length=32)]
KubeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=1, max_length=253)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
S3Uri = Annotated[str, StringConstraints(pattern=S3_URI_PATTERN, max_length=2048)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[a-f0-9]{64}$", min_length=64, max_length=64)]
ImageRef = Annotated[str, StringConstraints(min_length=1, max_length=512)]
Cron = Annotated[str, StringConstraints(pattern=r"^(@\w+|(\S+\s+){4}\S+)$", max_length=128)]
#: A Kubernetes quantity ("500m", "1Gi", 2); rendered as ``x-kubernetes-int-or-string``.
Quantity = int | Annotated[str, StringConstraints(max_length=64)]
#: Deliberately free-form JSON (hyperparameters, search spaces); rendered as preserve-unknown-fields.
FreeForm = dict[str, Any]
#: Metric name to value, e.g. ``{"roc_auc": 0.91, "f1": 0.77}``.
MetricValues = dict[str, float]
ConditionStatus = Literal["True", "False", "Unknown"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")


@dataclass(frozen=True)
class CelRule:
    """A CEL rule placed as ``x-kubernetes-validations`` on the schema node at ``path``.

    ``path`` is dotted from the object root ("spec.data.split"); a ``[]`` suffix steps into list items
    ("spec.training.candidates[]"). The pydantic validators mirror every rule, so the trainer and the
    operator reject the same specs as the API server.
    """

    path: str
    rule: str
    message: str
    reason: str | None = None
    field_path: str | None = None

    def to_schema(self) -> dict[str, str]:
        """Render as one entry of ``x-kubernetes-validations``."""
        out = {"rule": self.rule, "message": self.message}
        if self.reason:
            out["reason"] = self.reason
        if self.field_path:
            out["fieldPath"] = self.field_path
        return out


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration ("1h30m", "90s", "250ms") so specs read like the rest of Kubernetes."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 5m, 1h30m")
    seconds = sum(float(num) * _UNITS[unit] for num, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


class ApiModel(BaseModel):
    """Base of every spec model: camelCase on the wire, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StatusModel(ApiModel):
    """Base of status models: tolerant of fields written by a newer operator version."""

    model_config = ConfigDict(extra="ignore")


class OwnerReference(ApiModel):
    """An owner of an object; deleting the owner deletes the object (garbage collection)."""

    model_config = ConfigDict(extra="ignore")

    api_version: str = Field(description="API version of the owner, e.g. mloop.io/v1alpha1.")
    kind: str = Field(description="Kind of the owner, e.g. TrainingRun.")
    name: str = Field(description="Name of the owner.")
    uid: str = Field(description="UID of the owner; guards against a recreated owner of the same name.")
    controller: bool | None = Field(default=None, description="True if the owner is the managing controller.")
    block_owner_deletion: bool | None = Field(
        default=None, description="True if foreground deletion of the owner waits for this object."
    )


class ObjectMeta(ApiModel):
    """The subset of Kubernetes object metadata mloop reads; other metadata fields are kept as extras."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(default=None, description="Object name, unique in its namespace.")
    generate_name: str | None = Field(default=None, description="Prefix for a server-generated name.")
    namespace: str | None = Field(default=None, description="Namespace of the object.")
    uid: str | None = Field(default=None, description="Server-assigned unique id.")
    generation: int | None = Field(default=None, description="Incremented by the server on spec changes.")
    resource_version: str | None = Field(default=None, description="Opaque version for optimistic locking.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels for selection.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations (e.g. approvals).")
    creation_timestamp: datetime | None = Field(default=None, description="Creation time (RFC 3339).")
    deletion_timestamp: datetime | None = Field(default=None, description="Set when deletion was requested.")
    finalizers: list[str] = Field(default_factory=list, description="Finalizers that block deletion.")
    owner_references: list[OwnerReference] = Field(default_factory=list, description="Owners of the object.")


class LocalObjectReference(ApiModel):
    """A reference to another object in the same namespace, by name."""

    name: KubeName = Field(description="Name of the referenced object in the same namespace.")


class SecretKeyReference(ApiModel):
    """One key of a Secret in the same namespace; secret values are only ever passed by reference."""

    name: KubeName = Field(description="Name of the Secret in the same namespace.")
    key: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="Key inside the Secret's data."
    )


class ResourceRequirements(ApiModel):
    """Compute resources for a container, as in a Pod spec (quantities such as "500m", "1Gi")."""

    requests: dict[str, Quantity] = Field(
        default_factory=dict,
        max_length=8,
        description="Minimum resources, e.g. {cpu: 500m, memory: 1Gi}; the scheduler reserves them.",
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict,
        max_length=8,
        description="Maximum resources, e.g. {cpu: 2, memory: 4Gi}; exceeding memory kills the container.",
    )


class Condition(StatusModel):
    """A standard Kubernetes condition: one observed aspect of the object's state."""

    type: Annotated[str, StringConstraints(max_length=316)] = Field(
        description="Condition type in CamelCase, e.g. Ready, DataValidated, Validated."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: Annotated[str, StringConstraints(max_length=1024)] = Field(
        default="", description="Machine-readable CamelCase reason for the last transition, e.g. InvalidSpec."
    )
    message: Annotated[str, StringConstraints(max_length=32768)] = Field(
        default="", description="Human-readable detail about the last transition."
    )
    last_transition_time: datetime | None = Field(
        default=None, description="When the status last changed (RFC 3339)."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the condition was computed from."
    )


class StatusBase(StatusModel):
    """Fields every mloop status carries: what the operator last saw and how it judged it."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the operator last reconciled; stale means busy."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=32,
        description="Observed conditions; Ready aggregates the others.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    phase: str | None = Field(
        default=None,
        max_length=64,
        description="One-word summary for display only; automation should read conditions instead.",
    )

    def condition(self, type_: str) -> Condition | None:
        """Return the condition of the given type, if present."""
        return next((c for c in self.conditions if c.type == type_), None)


class SliceMetrics(ApiModel):
    """Metrics of the model on the test rows where one column takes one value."""

    column: ColumnName = Field(description="Slice column, from the project's data.slices.")
    value: Annotated[str, StringConstraints(max_length=256)] = Field(
        description="Value of the column that defines the slice (as a string)."
    )
    rows: int = Field(ge=0, description="Number of test rows in the slice.")
    metrics: MetricValues = Field(
        default_factory=dict, max_length=32, description="Metric name to value on this slice."
    )
