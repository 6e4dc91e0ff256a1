"""The run, stage by stage (SPEC §1 TrainingRun 1-7): each stage is one call into a small module, timed and
recorded by ``RunRecord``; whatever happens, a ``result.json`` with everything known is written.

The test set is sealed in the Split stage and opened once, in Evaluated; the opened rows are then reused
read-only for the champion re-scoring and the export parity check (neither chooses anything).
"""

from __future__ import annotations

import io
import json
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mloop.api.mlproject import MLProjectSpec
from mloop.trainer import candidates, evaluate, export, leakage, report
from mloop.trainer.data import load_data
from mloop.trainer.feedback import FeedbackConfig, combined_digest, load_feedback
from mloop.trainer.io import Inputs, OutputSink
from mloop.trainer.metrics import task_metrics
from mloop.trainer.profile import (
    check_quality,
    prepare_target,
    profile_frame,
    select_features,
    to_model_frame,
)
from mloop.trainer.result import RunRecord, TrainerFailure, config_digest
from mloop.trainer.split import SealedTestSet, TestRows, plan_split

__all__ = ["REFERENCE_ROWS", "RunConfig", "run"]

REFERENCE_ROWS = 10_000


@dataclass(frozen=True)
class RunConfig:
    """What one run needs: the project spec, where the data is and where outputs go."""

    spec: MLProjectSpec
    data: str
    output: str
    data_format: str = "auto"
    champion: str | None = None
    champion_name: str | None = None
    seed: int | None = None
    data_sha256: str | None = None
    feedback: FeedbackConfig | None = None


def run(config: RunConfig, inputs: Inputs) -> dict[str, Any]:
    """Run every stage; return the result (also written as ``result.json`` under the output)."""
    spec = config.spec
    spec_json = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    seed = config.seed if config.seed is not None else spec.data.split.seed
    rec = RunRecord()
    rec.body.update(
        configDigest=config_digest(spec_json, seed),
        primaryMetric=spec.problem.primary_metric,
        seed=seed,
        task=spec.problem.task,
    )
    sink = OutputSink(config.output, inputs)
    try:
        _stages(config, spec=spec, spec_json=spec_json, seed=seed, rec=rec, inputs=inputs, sink=sink)
        result = rec.finish("succeeded", "Succeeded", "model trained, evaluated and exported")
    except TrainerFailure as exc:
        result = rec.finish("failed", exc.reason, exc.message)
    except Exception as exc:  # noqa: BLE001 - the top of the run: report InternalError, never a bare crash
        traceback.print_exc(file=sys.stderr)
        result = rec.finish("failed", "InternalError", f"{type(exc).__name__}: {exc}")
    result["resultUri"] = sink.uri("result.json")
    try:
        sink.put("result.json", json.dumps(result, indent=1).encode(), "application/json")
    except TrainerFailure as exc:  # the termination message still carries the outcome
        print(f"warning: could not write result.json: {exc.reason}: {exc.message}", file=sys.stderr)
    return result


def _stages(
    config: RunConfig,
    *,
    spec: MLProjectSpec,
    spec_json: dict[str, Any],
    seed: int,
    rec: RunRecord,
    inputs: Inputs,
    sink: OutputSink,
) -> None:
    body, problem, data = rec.body, spec.problem, spec.data
    task, primary = problem.task, problem.primary_metric
    fmt = config.data_format if config.data_format != "auto" else data.source.format
    with rec.stage("DataLoaded") as st:
        loaded = load_data(config.data, inputs, fmt, config.data_sha256)
        body["data"] = loaded.provenance()
        body["dataDigest"] = loaded.sha256
        frame = loaded.frame
        st["line"] = f"{loaded.uri} sha256={loaded.sha256} rows={len(frame)} columns={frame.shape[1]}"
        st["message"] = f"read {len(frame)} rows x {frame.shape[1]} columns from {loaded.parts} part(s)"
        if config.feedback is not None:
            frame = _add_feedback(config.feedback, inputs, loaded.frame, spec, body=body, stage=st)

    with rec.stage("DataValidated") as st:
        target = prepare_target(frame, problem)
        features = select_features(frame, data, problem.target)
        # Forbidden columns are dropped anyway: they break no quality rule (feedback rows leave them empty).
        used = [*(c for c in features.columns if c not in data.forbidden_columns), problem.target]
        used += [c for c in (data.time_column, data.group_column) if c and c in frame.columns]
        body["profile"] = profile_frame(frame, used)
        check_quality(body["profile"], data)
        st["message"] = (
            f"{len(features.columns)} features ({len(features.categoricals)} categorical), "
            f"duplicates {body['profile']['duplicateFraction']:.1%}, quality rules met"
        )

    plan = plan_split(frame, target.y, data, seed)
    with rec.stage("LeakageAudited") as st:
        holdout = np.concatenate([plan.validation, plan.test])
        times = frame[data.time_column].iloc[holdout] if data.split.strategy == "time" else None
        audit = leakage.audit_leakage(
            frame.iloc[plan.train],
            target.y[plan.train],
            features,
            task=task,
            data=data,
            seed=seed,
            holdout_times=times,
        )
        body["leakage"] = {"flagged": audit.findings}
        if audit.failing:
            raise leakage.leak_failure(audit)
        features = audit.features
        st["message"] = f"{len(audit.findings)} finding(s), none failing"

    with rec.stage("Split") as st:
        x_all = to_model_frame(frame, features)
        sealed = SealedTestSet(TestRows(frame.iloc[plan.test], x_all.iloc[plan.test], target.y[plan.test]))
        body["split"] = plan.summary()
        sizes = body["split"]["sizes"]
        st["message"] = (
            f"{plan.strategy}: train={sizes['train']} validation={sizes['validation']} "
            f"test={sizes['test']} (sealed)"
        )

    with rec.stage("Trained") as st:
        tr_target = type(target)(target.y[plan.train], target.classes, target.positive)
        trained = candidates.train_all(
            spec.training.candidates,
            features=features,
            task=task,
            baseline=problem.baseline,
            primary=primary,
            seed=seed,
            train=(x_all.iloc[plan.train], tr_target),
            validation=(x_all.iloc[plan.validation], target.y[plan.validation]),
        )
        body["trials"] = trained.trials
        body["best"] = trained.best
        body["trialsSummary"] = _trials_summary(trained.trials, primary)
        best = trained.best
        st["message"] = (
            f"best {best['candidate']} ({best['algorithm']}) validation {primary}="
            f"{trained.validation.get(primary, float('nan')):.4f} after {len(trained.trials)} trials"
        )

    with rec.stage("Evaluated") as st:
        rows = sealed.open()
        classes, positive = target.classes, target.positive
        out = candidates.predict_output(trained.model, rows.x, task)
        base_out = candidates.predict_output(trained.baseline, rows.x, task)
        metrics: dict[str, Any] = {
            "validation": trained.validation,
            "test": task_metrics(task, rows.y, out, classes, positive),
            "baseline": task_metrics(task, rows.y, base_out, classes, positive),
        }
        if config.champion:
            champ_out, why = _champion(config.champion, inputs, rows, task, classes)
            body["championComparable"] = why is None
            body["championName"] = config.champion_name
            body["championReason"] = why
            if champ_out is not None:
                metrics["champion"] = task_metrics(task, rows.y, champ_out, classes, positive)
        body["metrics"] = metrics
        common: dict[str, Any] = {"task": task, "classes": classes, "positive": positive, "primary": primary}
        body["slices"] = evaluate.slice_metrics(
            rows.raw, rows.y, out, columns=data.slices, min_rows=data.slice_min_rows, **common
        )
        body["fairness"] = evaluate.fairness(rows.raw, rows.y, out, columns=data.sensitive_features, **common)
        evaluation: dict[str, Any] = {
            "worstPredictions": evaluate.worst_predictions(
                rows.raw, rows.x, rows.y, out, task=task, classes=classes
            )
        }
        if task != "regression":
            evaluation["confusionMatrix"] = evaluate.confusion(rows.y, out, classes)
            evaluation["calibration"] = evaluate.calibration(rows.y, out, classes, positive)
        body["evaluation"] = evaluation
        test_v, base_v = metrics["test"].get(primary), metrics["baseline"].get(primary)
        champ_v = metrics.get("champion", {}).get(primary)
        st["message"] = f"test {primary}={test_v} baseline={base_v}" + (
            f" champion={champ_v}" if config.champion else ""
        )

    with rec.stage("Exported") as st:
        lineage = {"mloop.dataDigest": body["dataDigest"], "mloop.configDigest": body["configDigest"]}
        model = export.export_onnx(trained.model, features, task, target.classes, lineage)
        body["signature"] = export.signature(features, task, target.classes)
        body["parity"] = export.check_parity(model, trained.model, rows.x, task)
        arts: dict[str, Any] = {}
        ref = sink.put("model.onnx", model)
        arts["model"] = {
            **ref.to_json(),
            "format": "onnx",
            "opset": export.opset_of(model),  # what the graph needs; skl2onnx picks the lowest that works
            "targetOpset": export.OPSET,
        }
        train_rows = np.concatenate([plan.train, plan.validation])
        arts["reference"] = sink.put(
            "reference.parquet", _reference(x_all.iloc[train_rows], features, seed)
        ).to_json()
        trials = "\n".join(json.dumps(t, sort_keys=True, default=str) for t in trained.trials) + "\n"
        arts["trials"] = sink.put("trials.jsonl", trials.encode(), "application/x-ndjson").to_json()
        body["trialsSummary"]["logUri"] = arts["trials"]["uri"]
        body["artifacts"] = arts
        draft = rec.finish("succeeded", "Succeeded", "")
        images = report.plots(
            task, y=rows.y, output=out, classes=target.classes, positive=target.positive, result=draft
        )
        body["plots"] = {
            n: sink.put(f"plots/{n}", b, "image/png").to_json() for n, b in sorted(images.items())
        }
        html = report.report_html(draft, spec_json, images)
        arts["report"] = sink.put("report.html", html.encode(), "text/html").to_json()
        card = report.model_card(rec.finish("succeeded", "Succeeded", ""), spec_json)
        arts["card"] = sink.put("model_card.md", card.encode(), "text/markdown").to_json()
        st["message"] = (
            f"model.onnx sha256={ref.sha256} opset={arts['model']['opset']} "
            f"parity maxAbsDiff={body['parity']['maxAbsDiff']:.2e}"
        )


def _add_feedback(
    config: FeedbackConfig,
    inputs: Inputs,
    source: pd.DataFrame,
    spec: MLProjectSpec,
    *,
    body: dict[str, Any],
    stage: dict[str, Any],
) -> pd.DataFrame:
    """Source rows plus labelled traffic rows; provenance and the folded digest go into the result."""
    added = load_feedback(config, inputs, source, spec)
    frame = pd.concat([source, added.frame], ignore_index=True) if len(added.frame) else source
    rejected = added.summary.get("rejectedTotal", 0)
    body["data"].update(
        rows=len(frame),
        sourceRows=len(source),
        feedbackRows=len(added.frame),
        feedbackRejected=rejected,
        feedback=added.summary,
    )
    body["dataDigest"] = combined_digest(body["dataDigest"], added.sha256)
    stage["message"] += (
        f"; added {len(added.frame)} labelled traffic row(s) of {added.summary.get('requests', 0)} logged"
        + (f", {rejected} rejected ({', '.join(added.summary['rejected'])})" if rejected else "")
        + (f" (feedback skipped: {added.summary['skipped']})" if "skipped" in added.summary else "")
    )
    return frame


def _champion(
    location: str, inputs: Inputs, rows: TestRows, task: str, classes: list[Any]
) -> tuple[np.ndarray | None, str | None]:
    try:
        model = inputs.read(location)
    except TrainerFailure as exc:
        return None, f"champion model unreadable: {exc.reason}: {exc.message}"
    return export.score_champion(model, rows.raw, task, classes)


def _reference(x: pd.DataFrame, features: Any, seed: int) -> bytes:
    """At most 10,000 training rows (train + validation: what the final model learned from), seeded,
    with the columns exactly as the model sees them (float32 numerics, string categoricals)."""
    if len(x) > REFERENCE_ROWS:
        pick = np.sort(np.random.default_rng(seed).choice(len(x), REFERENCE_ROWS, replace=False))
        x = x.iloc[pick]
    out = pd.DataFrame(
        {
            # Missing categoricals are "" here as in serving, never the string "nan".
            c: x[c].astype(object).where(x[c].notna(), "").astype(str)
            if c in features.categorical
            else x[c].astype(np.float32)
            for c in features.columns
        }
    ).reset_index(drop=True)
    buf = io.BytesIO()
    out.to_parquet(buf, index=False)
    return buf.getvalue()


def _trials_summary(trials: list[dict[str, Any]], primary: str) -> dict[str, Any]:
    """``TrialsSummary`` of the TrainingRun status: counts and best validation score per candidate."""
    per: dict[str, int] = {}
    best: dict[str, float] = {}
    for t in trials:
        per[t["candidate"]] = per.get(t["candidate"], 0) + 1
        value = t["validation"].get(primary)
        if value is not None:
            keep = best.get(t["candidate"])
            lower = primary in ("log_loss", "rmse", "mae", "mape")
            if keep is None or (value < keep if lower else value > keep):
                best[t["candidate"]] = value
    return {"total": len(trials), "perCandidate": per, "bestValidationScore": best}
