"""``result.json`` to the API models: how the operator fills TrainingRun status and the ModelVersion spec.

Pure and free of the ML stack; the trainer's S3 test proves that a real succeeded result validates against
the pydantic models through these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mloop.api import API_VERSION
from mloop.api.common import LocalObjectReference, SliceMetrics
from mloop.api.modelversion import Artifact, Lineage, ModelMetrics, ModelVersionSpec, Signature
from mloop.api.trainingrun import DataProvenance, LeakageFinding, RunMetrics, TrainingResults, TrialsSummary
from mloop.reconcile.owners import child_labels, owner_reference

__all__ = [
    "build_model_version",
    "next_version_name",
    "to_model_version_fields",
    "to_provenance",
    "to_training_results",
]


def to_provenance(result: dict[str, Any]) -> DataProvenance:
    data = result.get("data") or {}
    keys = ("uri", "sha256", "rows", "columns", "feedbackRows", "feedbackRejected")
    return DataProvenance.model_validate({k: data.get(k) for k in keys})


def _champion(result: dict[str, Any]) -> tuple[dict[str, float], str | None]:
    """The champion's metrics on this run's test rows, only when the trainer could compare them."""
    metrics = result.get("metrics") or {}
    if not metrics.get("champion") or result.get("championComparable") is False:
        return {}, None
    return dict(metrics["champion"]), result.get("championName")


def _slices(result: dict[str, Any]) -> list[SliceMetrics]:
    return [
        SliceMetrics(column=s["column"], value=s["value"], rows=s["rows"], metrics=s["metrics"])
        for s in result.get("slices", [])
    ]


def to_training_results(result: dict[str, Any]) -> TrainingResults:
    """``TrainingRun.status.results``; ``summaryUri`` points at the full ``result.json``."""
    metrics = result.get("metrics") or {}
    best = result.get("best") or {}
    summary = result.get("trialsSummary") or {}
    uri = result.get("resultUri")
    return TrainingResults(
        best_candidate=best.get("candidate"),
        best_params=best.get("params") or {},
        metrics=RunMetrics(
            validation=metrics.get("validation") or {},
            test=metrics.get("test") or {},
            baseline=metrics.get("baseline") or {},
            champion=_champion(result)[0],
            champion_name=_champion(result)[1],
        ),
        slices=_slices(result),
        fairness_gaps={
            k: v["maxGap"] for k, v in (result.get("fairness") or {}).items() if v.get("maxGap") is not None
        },
        leakage=[LeakageFinding.model_validate(f) for f in (result.get("leakage") or {}).get("flagged", [])],
        trials=TrialsSummary.model_validate(summary) if summary else TrialsSummary(),
        onnx_parity_max_abs_diff=(result.get("parity") or {}).get("maxAbsDiff"),
        artifacts_uri=uri.rsplit("/", 1)[0] + "/" if isinstance(uri, str) and "/" in uri else None,
        summary_uri=uri,
    )


def to_model_version_fields(result: dict[str, Any]) -> dict[str, Any]:
    """The ModelVersion spec fields a succeeded run determines (add ``projectRef``/``trainingRunRef``).
    Only for S3 outputs: the API accepts ``s3://`` URIs only."""
    arts = result["artifacts"]
    model = arts["model"]
    metrics = result.get("metrics") or {}
    return {
        "artifact": Artifact(
            uri=model["uri"], sha256=model["sha256"], size_bytes=model["sizeBytes"], opset=model["opset"]
        ),
        "signature": Signature.model_validate(result["signature"]),
        "lineage": Lineage(
            data_uri=result["data"]["uri"],
            data_digest=result["dataDigest"],
            config_digest=result["configDigest"],
            trainer_version=result["trainerVersion"],
            algorithm=(result.get("best") or {}).get("algorithm"),
        ),
        "metrics": ModelMetrics(
            test=metrics.get("test") or {},
            validation=metrics.get("validation") or {},
            baseline=metrics.get("baseline") or {},
            slices=_slices(result),
            champion=_champion(result)[0],
            champion_name=_champion(result)[1],
        ),
        "model_card_uri": arts["card"]["uri"],
        "report_uri": arts["report"]["uri"],
        "reference_uri": arts["reference"]["uri"],
    }


def build_model_version(
    name: str, run: Mapping[str, Any], project: Mapping[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    """The ModelVersion a succeeded run yields: owned by the project, since it outlives the run.

    The spec is immutable from here on (CEL rule), so everything the gate and serving need is in it.
    """
    run_name = run["metadata"]["name"]
    project_name = project["metadata"]["name"]
    fields = to_model_version_fields(result)
    spec = ModelVersionSpec(
        project_ref=LocalObjectReference(name=project_name),
        training_run_ref=LocalObjectReference(name=run_name),
        **fields,
    )
    labels = child_labels(name="mloop-model", component="model", instance=name, project=project_name)
    labels["mloop.io/training-run"] = run_name
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelVersion",
        "metadata": {
            "name": name,
            "namespace": run["metadata"].get("namespace"),
            "labels": labels,
            "ownerReferences": [owner_reference(project, controller=False)],
        },
        "spec": spec.model_dump(by_alias=True, exclude_none=True, mode="json"),
    }


def next_version_name(project: str, existing: Iterable[str]) -> str:
    """``<project>-<n>`` with n one above the highest number in use (numbers are never reused)."""
    highest = 0
    prefix = f"{project}-"
    for name in existing:
        suffix = name.removeprefix(prefix)
        if name.startswith(prefix) and suffix.isdigit():
            highest = max(highest, int(suffix))
    return f"{project}-{highest + 1}"
