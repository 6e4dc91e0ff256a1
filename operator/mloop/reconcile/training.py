"""TrainingRun builders: the effective training config and the batch Job that runs the trainer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from mloop.api.common import parse_duration
from mloop.api.mlproject import MLProject
from mloop.api.trainingrun import TrainingRun
from mloop.reconcile.naming import child_name
from mloop.reconcile.owners import child_labels, owner_reference
from mloop.reconcile.pods import (
    S3Access,
    container_security_context,
    pod_security_context,
    resources_of,
    s3_env,
)

__all__ = [
    "DEFAULT_TRAINER_RESOURCES",
    "build_training_job",
    "effective_project",
    "feedback_log_prefixes",
    "project_prefix",
    "run_output_uri",
    "training_job_name",
]

#: The container's writable scratch directory: an emptyDir, since the root filesystem is read-only.
SCRATCH = "/tmp"  # noqa: S108 - a path inside the container, backed by an emptyDir volume

DEFAULT_TRAINER_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "1", "memory": "2Gi"},
    "limits": {"cpu": "2", "memory": "4Gi"},
}


def training_job_name(run_name: str) -> str:
    """``<run>-train``: deterministic, so a retried reconcile finds the Job it already created."""
    return child_name(run_name, "train")


def project_prefix(bucket: str, namespace: str, project: str) -> str:
    """``s3://<bucket>/<namespace>/<project>/``, the root of every artifact of a project (SPEC §3)."""
    return f"s3://{bucket}/{namespace}/{project}/"


def feedback_log_prefixes(prefix: str, deployment: str) -> tuple[str, str]:
    """The request log and the feedback log of one deployment under a project prefix (SPEC §3)."""
    return f"{prefix}traffic/{deployment}/", f"{prefix}feedback/{deployment}/"


def run_output_uri(bucket: str, namespace: str, project: str, run: str) -> str:
    return f"{project_prefix(bucket, namespace, project)}runs/{run}/"


def effective_project(project: MLProject, run: TrainingRun) -> dict[str, Any]:
    """The project as the trainer should see it: the run's overrides (data, candidates, seed) applied."""
    spec = project.spec.model_copy(deep=True)
    overrides = run.spec
    if overrides.data is not None:
        spec.data.source = spec.data.source.model_copy(
            update={"uri": overrides.data.uri, "format": overrides.data.format}
        )
    if overrides.candidates is not None:
        spec.training.candidates = list(overrides.candidates)
    if overrides.seed is not None:
        spec.data.split = spec.data.split.model_copy(update={"seed": overrides.seed})
    return {
        "apiVersion": project.api_version,
        "kind": project.kind,
        "metadata": {"name": project.metadata.name, "namespace": project.metadata.namespace},
        "spec": spec.model_dump(by_alias=True, exclude_none=True, mode="json"),
    }


def _feedback_args(run: TrainingRun, project: MLProject) -> list[str]:
    """``spec.feedback``, bounded by the run's creation time so that a retried Job reads the same rows."""
    feedback = run.spec.feedback
    if feedback is None:
        return []
    prefix = project_prefix(
        project.spec.storage.bucket, run.metadata.namespace or "default", project.metadata.name or ""
    )
    traffic, labels = feedback_log_prefixes(prefix, feedback.deployment_ref.name)
    args = [
        "--feedback-traffic",
        traffic,
        "--feedback-labels",
        labels,
        "--feedback-max-rows",
        str(feedback.max_rows),
    ]
    created = run.metadata.creation_timestamp
    if created is not None:
        created = created.replace(tzinfo=UTC) if created.tzinfo is None else created.astimezone(UTC)
        args += ["--feedback-until", created.strftime("%Y-%m-%dT%H:%M:%SZ")]
    if feedback.max_age:
        args += ["--feedback-max-age", feedback.max_age]
    return args


def build_training_job(
    run_body: Mapping[str, Any],
    project: MLProject,
    *,
    image: str,
    s3: S3Access,
    champion: tuple[str, str] | None,
) -> dict[str, Any]:
    """The Job: one pod, never restarted in place, restricted security, no service account token.

    The trainer's summary reaches the operator through the pod's termination message (the full ``result.json``
    is in S3); credentials reach the pod only by Secret reference. ``champion`` is the current champion's
    (name, model URI), re-scored by the trainer on this run's sealed test set.
    """
    run = TrainingRun.model_validate(run_body)
    name = run.metadata.name or ""
    namespace = run.metadata.namespace or "default"
    config = effective_project(project, run)
    data_uri = config["spec"]["data"]["source"]["uri"]
    args = [
        "--project",
        json.dumps(config, separators=(",", ":"), sort_keys=True),
        "--data",
        data_uri,
        "--output",
        run_output_uri(project.spec.storage.bucket, namespace, project.metadata.name or "", name),
    ]
    if run.spec.data is not None and run.spec.data.sha256:
        args += ["--data-sha256", run.spec.data.sha256]
    if champion is not None:
        champion_name, champion_uri = champion
        args += ["--champion", champion_uri, "--champion-name", champion_name]
    args += _feedback_args(run, project)
    labels = child_labels(
        name="mloop-trainer", component="trainer", instance=name, project=project.metadata.name
    )
    labels["mloop.io/training-run"] = name
    env = [
        *s3_env(s3),
        {"name": "HOME", "value": SCRATCH},
        {"name": "TMPDIR", "value": SCRATCH},
        {"name": "MPLCONFIGDIR", "value": f"{SCRATCH}/matplotlib"},
    ]
    training = project.spec.training
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": training_job_name(name),
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(run_body)],
        },
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": max(1, int(parse_duration(training.timeout).total_seconds())),
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": "trainer",
                            "image": training.image or image,
                            "args": args,
                            "env": env,
                            "resources": resources_of(training.resources, DEFAULT_TRAINER_RESOURCES),
                            "securityContext": container_security_context(),
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "volumeMounts": [{"name": "tmp", "mountPath": SCRATCH}],
                        }
                    ],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}}],
                },
            },
        },
    }
