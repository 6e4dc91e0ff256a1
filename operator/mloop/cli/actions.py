"""``mloop approve <version>``, ``mloop promote|abort|rollback <deployment>``: manual controls as annotations.

The CLI never edits a spec (GitOps owns it): it sets one annotation with a merge patch on ``metadata`` and
the operator acts on it. Each command first reads the object and refuses, writing nothing, when the
action cannot apply to its current state, and says what will happen when it can. The patch carries the
``resourceVersion`` that decision was based on, so a status change in between makes it re-read and decide
again instead of acting on stale state.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import Any

from .common import command, condition, connection_flags, now, rfc3339
from .errors import ApiError, CliError, NotFound, Refused
from .kube import Kube

__all__ = ["ACTION_ANNOTATIONS", "APPROVED_BY", "register"]

#: Same value as ``mloop.reconcile.versions.APPROVED_BY`` (a test keeps them equal; importing it here would
#: load the pydantic models on every CLI start).
APPROVED_BY = "mloop.io/approved-by"
ACTION_ANNOTATIONS = {
    "promote": "mloop.io/promote",
    "abort": "mloop.io/abort",
    "rollback": "mloop.io/rollback",
}
_ATTEMPTS = 3
_HELP = {
    "promote": "finish the canary now: the canary becomes stable",
    "abort": "stop the canary: all traffic back to stable",
    "rollback": "serve the previous stable version again",
}


def register(subparsers: Any) -> None:
    flags = connection_flags()
    approve = subparsers.add_parser(
        "approve",
        parents=[flags],
        help="approve a ModelVersion for promotion (manual policy)",
        description=f"Set the annotation {APPROVED_BY} on a ModelVersion; the operator records the approval "
        "and promotes the version to champion if it passed the gate.",
    )
    approve.add_argument("version", help="ModelVersion name")
    approve.add_argument("--by", default=None, help="approver name (default: the local user name)")
    approve.add_argument("--dry-run", action="store_true", help="say what would happen; write nothing")
    approve.set_defaults(func=command(cmd_approve))
    for action, annotation in ACTION_ANNOTATIONS.items():
        parser = subparsers.add_parser(
            action,
            parents=[flags],
            help=_HELP[action],
            description=f"{_HELP[action].capitalize()}: sets the annotation {annotation} on a "
            "ModelDeployment to the current time; the operator acts on it.",
        )
        parser.add_argument("deployment", help="ModelDeployment name")
        parser.add_argument("--dry-run", action="store_true", help="say what would happen; write nothing")
        parser.set_defaults(func=command(cmd_deployment_action), action=action)


def _annotate(
    kube: Kube,
    plural: str,
    namespace: str,
    name: str,
    decide: Callable[[dict[str, Any]], tuple[str, dict[str, str]] | None],
    *,
    dry_run: bool,
) -> int:
    """Read, decide (``None``: already done; raises ``Refused``), patch conditionally; retry on 409."""
    for _ in range(_ATTEMPTS):
        obj = kube.get(plural, namespace, name)
        decision = decide(obj)
        if decision is None:
            return 0
        message, annotations = decision
        if dry_run:
            print(f"(dry run) {message}")
            return 0
        patch = {
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"], "annotations": annotations}
        }
        try:
            kube.merge_patch(plural, namespace, name, patch)
        except ApiError as exc:
            if exc.status == 409:
                continue
            if exc.status == 404:
                raise NotFound(f"{obj['kind']} {name} was deleted in namespace {namespace}") from exc
            raise
        print(message)
        return 0
    raise CliError(f"{name} kept changing while mloop tried to annotate it; run the command again")


# -- approve ---------------------------------------------------------------------------------------------


def cmd_approve(args: argparse.Namespace, kube: Kube) -> int:
    """Approve a ModelVersion: refuse when the gate rejected it or it is (or was) already champion."""
    by = args.by or _user()

    def decide(version: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
        name, status = args.version, version.get("status") or {}
        project = ((version.get("spec") or {}).get("projectRef") or {}).get("name", "?")
        validated = condition(version, "Validated")
        stage = status.get("stage")
        if stage == "rejected" or validated.get("status") == "False":
            raise Refused(
                f"ModelVersion {name} was rejected by the gate ({validated.get('reason', 'GateFailed')}: "
                f"{validated.get('message', '')}); approval cannot promote it. "
                f"Train a better one: mloop retrain {project}"
            )
        if stage == "champion":
            raise Refused(f"ModelVersion {name} is already the champion of project {project}")
        if stage == "retired":
            raise Refused(
                f"ModelVersion {name} was champion of project {project} and is retired; to serve it again "
                "roll back its deployment: mloop rollback <deployment>"
            )
        current = (version["metadata"].get("annotations") or {}).get(APPROVED_BY)
        if current:
            recorded = (status.get("approval") or {}).get("time")
            print(
                f"ModelVersion {name} is already approved by {current}"
                + (f" ({recorded})" if recorded else "")
            )
            return None
        if validated.get("status") == "True":
            then = "it passed the gate, so the operator promotes it to champion"
        else:
            then = "its gate has not run yet; the operator promotes it to champion if it passes"
        note = _policy_note(kube, args.namespace, project)
        return f"approved ModelVersion {name} as {by}: {then}{note}", {APPROVED_BY: by}

    return _annotate(kube, "modelversions", args.namespace, args.version, decide, dry_run=args.dry_run)


def _policy_note(kube: Kube, namespace: str, project: str) -> str:
    try:
        spec = kube.get("mlprojects", namespace, project).get("spec") or {}
    except NotFound:
        return f" (its project {project} does not exist)"
    policy = (spec.get("promotion") or {}).get("policy", "auto")
    return (
        "" if policy == "manual" else f" (project {project} has policy {policy}: approval is only recorded)"
    )


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers): make the user say who they are
        raise Refused("cannot tell who you are: pass --by NAME") from None


# -- promote | abort | rollback --------------------------------------------------------------------------


def cmd_deployment_action(args: argparse.Namespace, kube: Kube) -> int:
    """Set ``mloop.io/<action>`` to now after checking the deployment's status makes the action meaningful."""
    annotation = ACTION_ANNOTATIONS[args.action]

    def decide(deployment: dict[str, Any]) -> tuple[str, dict[str, str]]:
        message = plan_action(args.action, args.deployment, deployment.get("status") or {}, deployment)
        pending = (deployment["metadata"].get("annotations") or {}).get(annotation)
        if pending:
            message += f" (replaces the earlier request of {pending})"
        return f"{args.action} requested on ModelDeployment {args.deployment}: {message}", {
            annotation: rfc3339(now())
        }

    return _annotate(kube, "modeldeployments", args.namespace, args.deployment, decide, dry_run=args.dry_run)


def plan_action(action: str, name: str, status: dict[str, Any], deployment: dict[str, Any]) -> str:
    """What the operator will do, from the status; ``Refused`` when there is nothing to act on."""
    stable = status.get("stableVersion")
    canary = status.get("canaryVersion")
    if action in ("promote", "abort"):
        if not canary:
            serving = f" (stable: {stable})" if stable else " (it serves no version yet)"
            raise Refused(f"ModelDeployment {name} has no canary in progress{serving}: nothing to {action}")
        steps = len(((deployment.get("spec") or {}).get("canary") or {}).get("steps") or [])
        step = status.get("step")
        where = f"{status.get('canaryWeight', 0)}% of traffic" + (
            f", step {step + 1}/{steps}" if step is not None and steps else ""
        )
        if action == "abort":
            return f"the canary {canary} ({where}) is stopped and all traffic returns to {stable or 'stable'}"
        waiting = " (it is waiting for this approval)" if status.get("awaitingApproval") else ""
        return (
            f"the canary {canary} ({where}) becomes stable{waiting}; "
            f"{stable or 'the old stable'} is kept at zero replicas for rollback"
        )
    previous = status.get("previousStableVersion")
    if not previous:
        raise Refused(
            f"ModelDeployment {name} has no previous stable version to roll back to"
            + (f" ({stable} is the first it served)" if stable else " (it serves no version yet)")
        )
    aborted = f"the canary {canary} is stopped and " if canary else ""
    return f"{aborted}{previous} serves again in place of {stable} (it was kept at zero replicas)"
