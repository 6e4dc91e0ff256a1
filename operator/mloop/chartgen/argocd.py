"""The Argo CD ``resource.customizations`` for ``argocd-cm``, assembled from ``charts/mloop/argocd/*.lua``."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mloop.chartgen.files import Outputs

__all__ = ["ARGOCD_DIR", "GROUP", "KINDS", "argocd_customizations", "argocd_doc"]

ARGOCD_DIR = Path("charts") / "mloop" / "argocd"
GROUP = "mloop.io"
KINDS = ("MLProject", "TrainingRun", "ModelVersion", "ModelDeployment", "DriftMonitor")
BEGIN = "<!-- BEGIN GENERATED: argocd-cm (make manifests) -->"
END = "<!-- END GENERATED -->"


def _block(text: str, indent: int) -> str:
    """A YAML literal block body: the Lua source indented under its key."""
    return textwrap.indent(text.rstrip("\n") + "\n", " " * indent)


def argocd_customizations(root: Path) -> str:
    """The ``data:`` entries of ``argocd-cm`` as YAML: a health check per kind and the resource actions."""
    base = root / ARGOCD_DIR
    lines: list[str] = []
    for kind in KINDS:
        lines.append(f"  resource.customizations.health.{GROUP}_{kind}: |\n")
        lines.append(_block((base / "health" / f"{kind}.lua").read_text(), 4))
    for kind in KINDS:
        actions = base / "actions" / kind
        if not actions.is_dir():
            continue
        lines.append(f"  resource.customizations.actions.{GROUP}_{kind}: |\n")
        lines.append("    discovery.lua: |\n")
        lines.append(_block((actions / "discovery.lua").read_text(), 6))
        lines.append("    definitions:\n")
        for action in sorted(p for p in actions.iterdir() if p.is_dir()):
            lines.append(f"    - name: {action.name}\n")
            lines.append("      action.lua: |\n")
            lines.append(_block((action / "action.lua").read_text(), 8))
    return "".join(lines)


def argocd_doc(root: Path) -> Outputs:
    """``docs/argocd.md`` with its generated block (between the markers) replaced by the current scripts."""
    path = root / "docs" / "argocd.md"
    text = path.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    block = (
        "\n```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n  namespace: argocd\n"
        "  labels:\n    app.kubernetes.io/part-of: argocd\ndata:\n" + argocd_customizations(root) + "```\n"
    )
    return Outputs(files={path: text[:start] + block + text[end:]})
