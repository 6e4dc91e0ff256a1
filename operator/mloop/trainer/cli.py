"""``python -m mloop.trainer``: arguments, exit codes and the Job's termination message.

Exit codes: 0 the run succeeded; 1 the run failed (bad data, a leak, a failed export, an internal error:
``result.json`` says why); 2 usage errors (bad arguments, an unreadable or invalid project file).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from mloop.api.common import parse_duration
from mloop.api.feedback import DEFAULT_FEEDBACK_MAX_ROWS
from mloop.api.mlproject import MLProjectSpec
from mloop.trainer.io import Inputs, is_s3
from mloop.trainer.result import TRAINER_VERSION, termination_message

if TYPE_CHECKING:
    from mloop.trainer.feedback import FeedbackConfig

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "load_project", "main", "write_termination"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_TERMINATION_LOG = "/dev/termination-log"


class UsageError(Exception):
    """Bad invocation: nothing was trained, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mloop.trainer",
        description="Validate, audit, split, train, evaluate and export one model for an MLProject.",
    )
    p.add_argument(
        "--project",
        required=True,
        help="MLProject YAML or JSON file (full object or spec only), or that JSON inline",
    )
    p.add_argument(
        "--data",
        help="s3:// URI or local path: a file, or a prefix/directory of parts "
        "(default: the project's data.source.uri)",
    )
    p.add_argument("--output", required=True, help="s3:// prefix or local directory for the outputs")
    p.add_argument("--champion", help="champion model.onnx (s3:// or local) to re-score on the test rows")
    p.add_argument("--champion-name", help="the champion's ModelVersion name, echoed into result.json")
    p.add_argument("--seed", type=int, help="split and search seed (default: data.split.seed)")
    p.add_argument("--data-sha256", help="pinned SHA-256 of the data; the run fails if it differs")
    p.add_argument("--format", choices=["auto", "csv", "parquet"], default="auto", help="data format")
    p.add_argument(
        "--feedback-traffic",
        help="request log prefix (.../traffic/<deployment>/): its rows labelled in --feedback-labels are "
        "added to the data",
    )
    p.add_argument("--feedback-labels", help="feedback log prefix (.../feedback/<deployment>/)")
    p.add_argument(
        "--feedback-max-rows",
        type=int,
        default=DEFAULT_FEEDBACK_MAX_ROWS,
        help=f"most labelled rows added, newest kept (default {DEFAULT_FEEDBACK_MAX_ROWS})",
    )
    p.add_argument(
        "--feedback-max-age", help="only requests logged this long before --feedback-until (or now)"
    )
    p.add_argument(
        "--feedback-until",
        help="RFC 3339 time: requests and labels logged at or after it are ignored (the run's creation time)",
    )
    p.add_argument("--version", action="version", version=f"mloop-trainer {TRAINER_VERSION}")
    return p


def load_project(path: str, inputs: Inputs | None = None) -> MLProjectSpec:
    """Parse YAML or JSON (YAML is a superset), accept a whole MLProject or just its spec.

    An argument starting with ``{`` is the JSON itself: the operator passes the effective project inline so
    the Job needs no ConfigMap and the pod spec records exactly what was trained.
    """
    label = "(inline JSON)" if path.lstrip().startswith("{") else path
    try:
        if path.lstrip().startswith("{"):
            text = path
        elif inputs and is_s3(path):
            text = inputs.read(path).decode()
        else:
            text = Path(path).read_text()
        doc: Any = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"--project {label}: cannot read: {exc}") from exc
    if not isinstance(doc, dict):
        raise UsageError(f"--project {label}: expected a mapping")
    spec = doc.get("spec", doc) if doc.get("kind") == "MLProject" or "spec" in doc else doc
    try:
        return MLProjectSpec.model_validate(spec)
    except ValidationError as exc:
        raise UsageError(f"--project {label}: invalid MLProject spec: {exc}") from exc


def write_termination(result: dict[str, Any]) -> None:
    """Write the trimmed summary where Kubernetes reads it; silently skip where there is no such file."""
    target = os.environ.get("MLOOP_TERMINATION_LOG")
    if not target:
        default = Path(DEFAULT_TERMINATION_LOG)
        if not (default.exists() and os.access(default, os.W_OK)):
            return
        target = str(default)
    try:
        Path(target).write_text(termination_message(result))
    except OSError as exc:
        print(f"warning: cannot write termination message to {target}: {exc}", file=sys.stderr)


def _check_args(args: argparse.Namespace) -> None:
    if args.seed is not None and not 0 <= args.seed <= 2**31 - 1:
        raise UsageError("--seed must be between 0 and 2^31-1")
    digest = (args.data_sha256 or "").lower().removeprefix("sha256:")
    if args.data_sha256 and not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise UsageError("--data-sha256 must be 64 hexadecimal characters")


def _feedback(args: argparse.Namespace) -> FeedbackConfig | None:
    """The join's settings; a duration is anchored at ``--feedback-until`` so a retried Job reads the same."""
    if not (args.feedback_traffic or args.feedback_labels):
        return None
    if not (args.feedback_traffic and args.feedback_labels):
        raise UsageError("--feedback-traffic and --feedback-labels go together")
    if not 1 <= args.feedback_max_rows <= 10_000_000:
        raise UsageError("--feedback-max-rows must be between 1 and 10000000")
    until = None
    if args.feedback_until:
        try:
            until = datetime.fromisoformat(args.feedback_until)
        except ValueError as exc:
            raise UsageError(f"--feedback-until: not an RFC 3339 time: {args.feedback_until}") from exc
        until = until.replace(tzinfo=UTC) if until.tzinfo is None else until.astimezone(UTC)
    since = None
    if args.feedback_max_age:
        try:
            since = (until or datetime.now(UTC)) - parse_duration(args.feedback_max_age)
        except ValueError as exc:
            raise UsageError(f"--feedback-max-age: {exc}") from exc
    from mloop.trainer.feedback import FeedbackConfig  # noqa: PLC0415 - pandas only once arguments are good

    return FeedbackConfig(args.feedback_traffic, args.feedback_labels, args.feedback_max_rows, since, until)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    inputs = Inputs()
    try:
        spec = load_project(args.project, inputs)
        data = args.data or spec.data.source.uri
        _check_args(args)
        feedback = _feedback(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        write_termination({"status": "failed", "reason": "InvalidArguments", "message": str(exc)})
        return EXIT_USAGE
    from mloop.trainer.pipeline import RunConfig, run  # noqa: PLC0415 - heavy imports after argument checks

    config = RunConfig(
        spec=spec,
        data=data,
        output=args.output,
        data_format=args.format,
        champion=args.champion,
        champion_name=args.champion_name,
        seed=args.seed,
        data_sha256=args.data_sha256,
        feedback=feedback,
    )
    result = run(config, inputs)
    write_termination(result)
    print(
        json.dumps({"status": result["status"], "reason": result["reason"], "message": result["message"]}),
        flush=True,
    )
    return EXIT_OK if result["status"] == "succeeded" else EXIT_FAILED
