"""``mloop status``: the whole loop at a glance, one table per kind (empty kinds left out).

``kubectl get mlp,tr,mv,mdep,dm`` shows the printer columns; this view adds what a person looks for next
(the champion's metric, the gate's reason, the canary step, drift windows) without a second command.
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_output, command, condition, connection_flags, format_age, print_json
from .kube import KINDS, Kube
from .table import render_table

__all__ = ["register", "rows_by_kind"]

TITLES = {
    "mlprojects": "PROJECTS",
    "trainingruns": "TRAINING RUNS",
    "modelversions": "MODEL VERSIONS",
    "modeldeployments": "DEPLOYMENTS",
    "driftmonitors": "DRIFT MONITORS",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        parents=[connection_flags()],
        help="projects, runs, versions, deployments and monitors at a glance",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    add_output(parser)
    parser.set_defaults(func=command(cmd_status))


def cmd_status(args: argparse.Namespace, kube: Kube) -> int:
    namespace = None if args.all_namespaces else args.namespace
    objects = {plural: kube.list(plural, namespace) for plural in KINDS}
    rows = rows_by_kind(objects)
    if args.output == "json":
        print_json({TITLES[p].lower().replace(" ", "_"): r for p, r in rows.items()})
        return 0
    sections = []
    for plural, kind_rows in rows.items():
        if not kind_rows:
            continue
        header = [h.upper().replace("_", " ") for h in kind_rows[0] if h != "namespace" or namespace is None]
        cells = [[v for k, v in row.items() if k != "namespace" or namespace is None] for row in kind_rows]
        sections.append(f"{TITLES[plural]}\n{render_table(header, cells)}")
    if sections:
        print("\n\n".join(sections))
    else:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        print(f"no mloop objects in {where} (create an MLProject: kubectl apply -f examples/mlproject.yaml)")
    return 0


def rows_by_kind(objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """One dict per object (column name -> value), oldest first; the same rows feed tables and JSON."""
    makers = {
        "mlprojects": _project,
        "trainingruns": _run,
        "modelversions": _version,
        "modeldeployments": _deployment,
        "driftmonitors": _monitor,
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for plural, items in objects.items():
        ordered = sorted(items, key=_order)
        out[plural] = [
            {
                "namespace": obj["metadata"].get("namespace", ""),
                "name": obj["metadata"]["name"],
                **makers[plural](obj),
                "age": format_age(obj["metadata"].get("creationTimestamp")),
            }
            for obj in ordered
        ]
    return out


def _order(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta.get("creationTimestamp", ""), meta["name"]


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _ready(obj: dict[str, Any]) -> str:
    cond = condition(obj, "Ready")
    if not cond:
        return ""
    return (
        cond.get("status", "")
        if cond.get("status") == "True"
        else f"{cond.get('status')} ({cond.get('reason')})"
    )


def _number(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("" if value is None else str(value))


def _project(obj: dict[str, Any]) -> dict[str, Any]:
    status, problem = _status(obj), (obj.get("spec") or {}).get("problem") or {}
    metric = problem.get("primaryMetric", "")
    champion_value = status.get("championMetric")
    return {
        "task": problem.get("task", ""),
        "champion": status.get("champion", ""),
        "metric": f"{metric}={_number(champion_value)}" if champion_value is not None else metric,
        "runs": (status.get("counts") or {}).get("runs", ""),
        "ready": _ready(obj),
    }


def _run(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, _status(obj)
    phase = status.get("phase", "")
    if phase == "Failed":
        phase = f"Failed ({condition(obj, 'Ready').get('reason', '')})"
    return {
        "project": (spec.get("projectRef") or {}).get("name", ""),
        "phase": phase,
        "trigger": spec.get("trigger", "manual"),
        "version": status.get("modelVersion", ""),
    }


def _version(obj: dict[str, Any]) -> dict[str, Any]:
    status = _status(obj)
    metric, value = status.get("primaryMetric"), status.get("primaryMetricValue")
    validated = condition(obj, "Validated")
    approval = status.get("approval") or {}
    return {
        "project": ((obj.get("spec") or {}).get("projectRef") or {}).get("name", ""),
        "stage": status.get("stage", ""),
        "metric": f"{metric}={_number(value)}" if metric and value is not None else "",
        "validated": f"{validated.get('status')} ({validated.get('reason')})" if validated else "",
        "approved": approval.get("approvedBy", ""),
    }


def _deployment(obj: dict[str, Any]) -> dict[str, Any]:
    status = _status(obj)
    canary = status.get("canaryVersion")
    step = status.get("step")
    steps = len(((obj.get("spec") or {}).get("canary") or {}).get("steps") or [])
    return {
        "stable": status.get("stableVersion", ""),
        "canary": canary or "",
        "weight": f"{status.get('canaryWeight', 0)}%" if canary else "",
        "step": f"{step + 1}/{steps}" if canary and step is not None and steps else "",
        "ready": _ready(obj),
    }


def _monitor(obj: dict[str, Any]) -> dict[str, Any]:
    status = _status(obj)
    features = ",".join(f.get("name", "") for f in status.get("driftedFeatures") or [])
    drifted = status.get("drifted")
    return {
        "deployment": ((obj.get("spec") or {}).get("deploymentRef") or {}).get("name", ""),
        "drifted": ("yes" + (f" ({features})" if features else "")) if drifted else ("no" if status else ""),
        "windows": status.get("consecutiveDriftWindows", ""),
        "last_check": format_age(status.get("lastCheckTime"))
        + (" ago" if status.get("lastCheckTime") else ""),
    }
