"""The Pod Security Standard ``restricted`` (Kubernetes v1.25+ policy), as one reusable assertion.

``assert_restricted(pod_spec)`` takes a PodSpec (``template["spec"]``) from the chart or from any builder of
the operator (training Job, drift Job, serving Deployments) and fails with every violation it finds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ALLOWED_VOLUME_TYPES", "assert_restricted", "violations"]

#: Volume sources the restricted profile allows.
ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_ALLOWED_ADD_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
_ALLOWED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})


def _containers(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (f"{field}[{c.get('name', '?')}]", c)
        for field in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(field) or []
    ]


def violations(spec: Mapping[str, Any]) -> list[str]:
    """Every way ``spec`` breaks the baseline or restricted profile (empty when it conforms)."""
    found: list[str] = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"{field} must not be true")
    pod_ctx: Mapping[str, Any] = spec.get("securityContext") or {}
    if pod_ctx.get("runAsUser") == 0:
        found.append("securityContext.runAsUser must not be 0")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_TYPES:
            found.append(f"volume {volume.get('name')}: type {sorted(kinds)} not allowed")
    pod_seccomp = (pod_ctx.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in _ALLOWED_SECCOMP:
        found.append(f"securityContext.seccompProfile.type {pod_seccomp} not allowed")
    for where, container in _containers(spec):
        ctx: Mapping[str, Any] = container.get("securityContext") or {}
        if ctx.get("privileged"):
            found.append(f"{where}: privileged must not be true")
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{where}: allowPrivilegeEscalation must be false")
        if ctx.get("procMount") not in (None, "Default"):
            found.append(f"{where}: procMount must be Default")
        run_as_non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
        if run_as_non_root is not True:
            found.append(f"{where}: runAsNonRoot must be true (container or pod)")
        if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
            found.append(f"{where}: runAsUser must not be 0")
        seccomp = (ctx.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in _ALLOWED_SECCOMP:
            found.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost (got {seccomp})")
        capabilities: Mapping[str, Any] = ctx.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"{where}: capabilities.drop must include ALL")
        added = set(capabilities.get("add") or []) - _ALLOWED_ADD_CAPABILITIES
        if added:
            found.append(f"{where}: capabilities.add {sorted(added)} not allowed")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"{where}: hostPort must not be set")
    return found


def assert_restricted(pod_spec: Mapping[str, Any]) -> None:
    """Fail, naming every violation, unless ``pod_spec`` meets the ``restricted`` Pod Security Standard."""
    problems = violations(pod_spec)
    assert not problems, "Pod Security Standard 'restricted' violated:\n  " + "\n  ".join(problems)
