"""Files generated from the Helm chart and the repository: the chart's CRD copies, ``deploy/`` and the Argo CD
``resource.customizations`` in ``docs/argocd.md``. ``make manifests`` writes them; ``make verify`` and the
packaging tests fail when a committed copy is stale. A development tool: it needs ``helm-python-sdk``.
"""

from __future__ import annotations

from mloop.chartgen.argocd import argocd_customizations, argocd_doc
from mloop.chartgen.files import Outputs, stale, write
from mloop.chartgen.render import chart_crds, deploy_manifests, render_chart

__all__ = [
    "Outputs",
    "argocd_customizations",
    "argocd_doc",
    "chart_crds",
    "deploy_manifests",
    "render_chart",
    "stale",
    "write",
]
