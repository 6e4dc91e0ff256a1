"""``result.json`` to the API models: how the operator fills TrainingRun status and the ModelVersion spec.

Pure and free of the ML stack; the trainer's S3 test proves that a real succeeded result validates against
the pydantic models through these functions.
"""

from __future__ import annotations

from typing import Any

from mloop.api.common import SliceMetrics
from mloop.api.modelversion import Artifact, Lineage, ModelMetrics, Signature
from mloop.api.trainingrun import DataProvenance, LeakageFinding, RunMetrics, TrainingResults, TrialsSummary

__all__ = ["to_model_version_fields", "to_provenance", "to_training_results"]


def to_provenance(result: dict[str, Any]) -> DataProvenance:
    data = result.get("data") or {}
    return DataProvenance.model_validate({k: data.get(k) for k in ("uri", "sha256", "rows", "columns")})


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
