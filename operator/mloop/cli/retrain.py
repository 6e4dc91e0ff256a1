"""``mloop retrain <project> [--reason TEXT] [--wait]``: start a manual TrainingRun and optionally follow it.

A run is a new object (its spec is immutable), named ``<project>-manual-<UTC yyyymmdd-hhmmss>`` so that the
name says who asked and when. ``--wait`` follows it to the end and then to its ModelVersion's gate verdict,
because "did retraining give us a better model?" is the question behind the command; the exit code answers it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .common import command, condition, connection_flags, now, print_json
from .errors import FAILED, OK, TIMEOUT, ApiError, CliError, NotFound
from .kube import GROUP, VERSION, Kube

__all__ = ["register", "run_name"]

TRAINER_STAGES = (
    "DataLoaded",
    "DataValidated",
    "LeakageAudited",
    "Split",
    "Trained",
    "Evaluated",
    "Exported",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retrain",
        parents=[connection_flags()],
        help="start a manual TrainingRun for a project (and follow it with --wait)",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", help="MLProject name")
    parser.add_argument("--reason", default=None, help="why (recorded in spec.reason)")
    parser.add_argument("--wait", action="store_true", help="follow the run to Succeeded/Failed and the gate")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait (default 1800)")
    parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    parser.set_defaults(func=command(cmd_retrain))


def run_name(project: str) -> str:
    return f"{project}-manual-{now().strftime('%Y%m%d-%H%M%S')}"


def cmd_retrain(args: argparse.Namespace, kube: Kube) -> int:
    ns = args.namespace
    kube.get("mlprojects", ns, args.project)  # NotFound lists the projects that exist
    spec: dict[str, Any] = {"projectRef": {"name": args.project}, "trigger": "manual"}
    if args.reason:
        spec["reason"] = args.reason
    name = run_name(args.project)
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TrainingRun",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }
    try:
        run = kube.create("trainingruns", ns, body)
    except ApiError as exc:
        if exc.status == 409:  # two retrains in the same second
            raise CliError(f"TrainingRun {name} already exists; try again") from exc
        raise
    log = sys.stderr if args.output == "json" else sys.stdout
    print(f"created TrainingRun {name} (project {args.project}, trigger manual)", file=log, flush=True)
    if not args.wait:
        if args.output == "json":
            print_json(run)
        else:
            print(f"follow it with: mloop status -n {ns}   (or mloop retrain ... --wait)")
        return OK
    return _follow(kube, ns, name, args, log)


def _follow(kube: Kube, ns: str, name: str, args: argparse.Namespace, log: Any) -> int:
    """Poll the run, printing each phase change and finished trainer stage, then the version's verdict."""
    deadline = time.monotonic() + args.timeout
    seen_phase = ""
    seen_stages: set[str] = set()
    run: dict[str, Any] = {}
    while time.monotonic() < deadline:
        run = kube.get("trainingruns", ns, name)
        status = run.get("status") or {}
        phase = status.get("phase") or "Pending"
        for stage in TRAINER_STAGES:
            if stage not in seen_stages and condition(run, stage).get("status") == "True":
                seen_stages.add(stage)
                _say(log, f"  {stage}")
        if phase != seen_phase:
            seen_phase = phase
            _say(log, phase)
        if phase == "Failed":
            ready = condition(run, "Ready")
            _say(log, f"TrainingRun {name} failed: {ready.get('reason', '')}: {ready.get('message', '')}")
            return _result(args, run, None, FAILED)
        if phase == "Succeeded" and status.get("modelVersion"):
            return _verdict(kube, ns, run, args, deadline=deadline, log=log)
        time.sleep(args.interval)
    return _timeout(args, name, seen_phase, run)


def _verdict(
    kube: Kube, ns: str, run: dict[str, Any], args: argparse.Namespace, *, deadline: float, log: Any
) -> int:
    version_name = run["status"]["modelVersion"]
    _say(log, f"created ModelVersion {version_name}; waiting for the gate")
    while time.monotonic() < deadline:
        try:
            version = kube.get("modelversions", ns, version_name)
        except NotFound:  # the run may name its version a moment before the version is readable
            time.sleep(args.interval)
            continue
        validated = condition(version, "Validated")
        if validated.get("status") in ("True", "False"):
            status = version.get("status") or {}
            value = f"{status.get('primaryMetric')}={_number(status.get('primaryMetricValue'))}"
            verdict = "passed" if validated["status"] == "True" else "failed"
            _say(
                log,
                f"ModelVersion {version_name}: {value}, gate {verdict} ({validated.get('reason')}: "
                f"{validated.get('message', '')}), stage {status.get('stage', '-')}",
            )
            if condition(version, "Approved").get("status") == "False":
                _say(log, f"waiting for approval: mloop approve {version_name} -n {ns}")
            return _result(args, run, version, OK if validated["status"] == "True" else FAILED)
        time.sleep(args.interval)
    return _timeout(args, version_name, "gate pending", run)


def _timeout(args: argparse.Namespace, name: str, state: str, run: dict[str, Any]) -> int:
    print(f"mloop: timed out after {args.timeout:.0f}s; {name} is {state or 'Pending'}", file=sys.stderr)
    if args.output == "json":
        print_json({"trainingRun": run, "modelVersion": None, "timedOut": True})
    return TIMEOUT


def _result(args: argparse.Namespace, run: dict[str, Any], version: dict[str, Any] | None, code: int) -> int:
    if args.output == "json":
        print_json({"trainingRun": run, "modelVersion": version, "timedOut": False})
    return code


def _number(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _say(log: Any, text: str) -> None:
    print(f"{now().strftime('%H:%M:%S')}  {text}", file=log, flush=True)
