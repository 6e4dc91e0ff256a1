"""The training Job builder: deterministic, owned, restricted, credentials by reference, overrides applied."""

import json
from pathlib import Path
from typing import Any

import yaml

from mloop.api.mlproject import MLProject
from mloop.reconcile.pods import S3Access
from mloop.reconcile.training import build_training_job, training_job_name

ROOT = Path(__file__).resolve().parents[2]


def project(secret: str | None = "s3-creds") -> MLProject:
    body = yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text())
    body["metadata"] = {"name": "credit", "namespace": "team-a"}
    if secret:
        body["spec"]["storage"]["credentialsSecretRef"] = {"name": secret}
    return MLProject.model_validate(body)


def run(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "mloop.io/v1alpha1",
        "kind": "TrainingRun",
        "metadata": {"name": "credit-7", "namespace": "team-a", "uid": "uid-7"},
        "spec": {"projectRef": {"name": "credit"}, **spec},
    }


def args_of(job: dict[str, Any]) -> dict[str, str]:
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    return dict(zip(args[::2], args[1::2], strict=True))


def test_job_is_deterministic_owned_and_restricted() -> None:
    job = build_training_job(
        run(),
        project(),
        image="ghcr.io/mloop-io/mloop-trainer:0.1.0",
        s3=S3Access("minio:9000"),
        champion=None,
    )
    assert job["metadata"]["name"] == training_job_name("credit-7") == "credit-7-train"
    assert job["metadata"]["ownerReferences"][0]["uid"] == "uid-7"
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = pod["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"] == project().spec.training.model_dump(by_alias=True)["resources"]
    assert job["spec"]["activeDeadlineSeconds"] == 30 * 60  # the example says timeout: 30m
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "trainer"
    assert (
        build_training_job(
            run(),
            project(),
            image="ghcr.io/mloop-io/mloop-trainer:0.1.0",
            s3=S3Access("minio:9000"),
            champion=None,
        )
        == job
    )


def test_credentials_only_by_secret_reference() -> None:
    access = S3Access("minio:9000", secret_name="s3-creds")
    job = build_training_job(run(), project(), image="img", s3=access, champion=None)
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLOOP_S3_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "s3-creds",
        "key": "AWS_ACCESS_KEY_ID",
    }
    assert "value" not in env["MLOOP_S3_SECRET_KEY"]


def test_run_overrides_reach_the_trainer() -> None:
    digest = "a" * 64
    job = build_training_job(
        run(data={"uri": "s3://other/new.csv", "sha256": digest}, seed=7),
        project(),
        image="img",
        s3=S3Access("minio:9000"),
        champion=("credit-3", "s3://mloop-artifacts/team-a/credit/runs/credit-3/model.onnx"),
    )
    args = args_of(job)
    config = json.loads(args["--project"])
    assert config["spec"]["data"]["source"]["uri"] == "s3://other/new.csv"
    assert config["spec"]["data"]["split"]["seed"] == 7
    assert args["--data"] == "s3://other/new.csv"
    assert args["--data-sha256"] == digest
    assert args["--output"] == "s3://mloop-artifacts/team-a/credit/runs/credit-7/"
    assert args["--champion"].endswith("credit-3/model.onnx")
    assert args["--champion-name"] == "credit-3"


def test_feedback_runs_read_the_deployments_logs_up_to_their_creation() -> None:
    body = run(feedback={"deploymentRef": {"name": "credit-live"}, "maxAge": "720h"})
    body["metadata"]["creationTimestamp"] = "2026-03-04T05:06:07Z"
    args = args_of(build_training_job(body, project(), image="img", s3=S3Access("minio:9000"), champion=None))
    assert args["--feedback-traffic"] == "s3://mloop-artifacts/team-a/credit/traffic/credit-live/"
    assert args["--feedback-labels"] == "s3://mloop-artifacts/team-a/credit/feedback/credit-live/"
    assert args["--feedback-max-rows"] == "100000"
    assert args["--feedback-until"] == "2026-03-04T05:06:07Z"  # a retried Job reads the same rows
    assert args["--feedback-max-age"] == "720h"
    plain = args_of(
        build_training_job(run(), project(), image="img", s3=S3Access("minio:9000"), champion=None)
    )
    assert not any(flag.startswith("--feedback") for flag in plain)
