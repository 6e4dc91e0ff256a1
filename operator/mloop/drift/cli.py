"""``python -m mloop.drift``: arguments, outputs, exit codes and the Job's termination message.

Exit codes: 0 the check ran (drift found or not: drift is a result, not an error; too little data is a
result too); 1 the check failed (unreadable reference or traffic, storage errors, a missing backend):
``{"status": "failed", "reason", "message"}`` in the termination message; 2 bad arguments or ``--config``.
Outputs under ``--output`` (an ``s3://`` prefix or a directory): ``drift.png`` first, then ``report.json``,
so a report never names a plot that is not there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from mloop.api.common import parse_duration
from mloop.drift.check import CheckConfig, CheckRequest, run_check
from mloop.drift.report import termination_message, to_json
from mloop.drift.storage import CheckFailure, Storage, is_s3, join
from mloop.drift.window import parse_time

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main", "write_termination"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_TERMINATION_LOG = "/dev/termination-log"


class UsageError(Exception):
    """Bad invocation: nothing was checked, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m mloop.drift",
        description="Compare a window of logged requests with a model's reference sample and report drift.",
    )
    p.add_argument("--reference", required=True, help="reference.parquet: s3:// URI or local path")
    p.add_argument("--traffic", required=True, help="traffic log prefix .../traffic/<deployment>/<version>/")
    p.add_argument("--window-start", help="RFC 3339 start (inclusive); default: end - window.duration")
    p.add_argument("--window-end", required=True, help="RFC 3339 end (exclusive)")
    p.add_argument(
        "--config",
        default="{}",
        help='JSON (inline or a file): {"detector": {...}, "window": {...}, "predictionDrift": bool, '
        '"performance": {...}}, the DriftMonitor spec fields',
    )
    p.add_argument("--output", required=True, help="s3:// prefix or directory for report.json and drift.png")
    p.add_argument("--feedback", help="feedback log prefix .../feedback/<deployment>/ (for performance)")
    p.add_argument("--feedback-lag", default="24h", help="labels are read up to window end + this (24h)")
    p.add_argument(
        "--signature", help="ModelVersion signature JSON (inline or a file): feature kinds, classes"
    )
    p.add_argument("--baseline-start", help="RFC 3339 start of the prediction-drift baseline period")
    p.add_argument("--baseline-end", help="RFC 3339 end of the prediction-drift baseline period")
    p.add_argument("--baseline-traffic", help="traffic prefix of the baseline (default: --traffic)")
    p.add_argument("--mmd-permutations", type=int, default=1000, help="MMD permutation count (1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of MMD permutations and subsampling (0)")
    return p


def _json_arg(text: str, flag: str) -> Any:
    """Inline JSON, or the path of a file holding it."""
    try:
        raw = text if text.lstrip().startswith(("{", "[")) else Path(text).read_text()
        return json.loads(raw)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{flag}: not JSON or an unreadable file: {exc}") from exc


def _time(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: not an RFC 3339 time: {text!r}") from exc


def _config(text: str) -> CheckConfig:
    doc = _json_arg(text, "--config")
    if not isinstance(doc, Mapping):
        raise UsageError("--config: expected a JSON object")
    try:
        return CheckConfig.parse(doc)
    except ValueError as exc:
        raise UsageError(f"--config: {exc}") from exc


def _request(args: argparse.Namespace, config: CheckConfig) -> CheckRequest:
    end = _time(args.window_end, "--window-end")
    start = _time(args.window_start, "--window-start")
    assert end is not None  # required by the parser
    if start is None:
        if not (config.window and config.window.duration):
            raise UsageError("--window-start is required unless window.duration is set in --config")
        start = end - parse_duration(config.window.duration)
    if not start < end:
        raise UsageError("--window-start must be before --window-end")
    b_start, b_end = (
        _time(args.baseline_start, "--baseline-start"),
        _time(args.baseline_end, "--baseline-end"),
    )
    if (b_start is None) != (b_end is None) or (b_start and b_end and not b_start < b_end):
        raise UsageError("give both --baseline-start and --baseline-end, start before end")
    signature = _json_arg(args.signature, "--signature") if args.signature else None
    if signature is not None and not isinstance(signature, Mapping):
        raise UsageError("--signature: expected a JSON object")
    if not 1 <= args.mmd_permutations <= 100_000:
        raise UsageError("--mmd-permutations must be between 1 and 100000")
    try:
        lag = parse_duration(args.feedback_lag)
    except ValueError as exc:
        raise UsageError(f"--feedback-lag: {exc}") from exc
    return CheckRequest(
        reference=args.reference,
        traffic=args.traffic,
        start=start,
        end=end,
        output=args.output,
        feedback=args.feedback,
        signature=signature,
        baseline_start=b_start,
        baseline_end=b_end,
        baseline_traffic=args.baseline_traffic,
        feedback_lag=lag,
        mmd_permutations=args.mmd_permutations,
        seed=args.seed,
    )


def write_termination(summary: Mapping[str, Any]) -> None:
    """Where Kubernetes reads it (``$MLOOP_TERMINATION_LOG``, else ``/dev/termination-log`` if writable)."""
    target = os.environ.get("MLOOP_TERMINATION_LOG")
    if not target:
        default = Path(DEFAULT_TERMINATION_LOG)
        if not (default.exists() and os.access(default, os.W_OK)):
            return
        target = str(default)
    try:
        Path(target).write_text(termination_message(summary))
    except OSError as exc:
        print(f"warning: cannot write termination message to {target}: {exc}", file=sys.stderr)


def _write_outputs(storage: Storage, output: str, report: dict[str, Any], png: bytes | None) -> None:
    if not is_s3(output):
        Path(output).mkdir(parents=True, exist_ok=True)
    if png is not None:
        report["plot"] = storage.write(join(output, "drift.png"), png, "image/png")
    report["reportUri"] = join(output, "report.json")
    storage.write(report["reportUri"], to_json(report), "application/json")


def main(argv: Sequence[str] | None = None, storage: Storage | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args.config)
        request = _request(args, config)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        write_termination({"status": "failed", "reason": "InvalidArguments", "message": str(exc)})
        return EXIT_USAGE
    storage = storage or Storage()
    try:
        report, png = run_check(request, config, storage)
        _write_outputs(storage, args.output, report, png)
    except CheckFailure as exc:
        print(f"error: {exc.reason}: {exc.message}", file=sys.stderr)
        write_termination({"status": "failed", "reason": exc.reason, "message": exc.message})
        return EXIT_FAILED
    write_termination(report)
    print(termination_message(report), flush=True)
    return EXIT_OK
