"""The resource types the emulator serves from the start, and the ``ResourceType`` record itself.

Built-ins carry no schema: they are stored as given (plus a few server-side defaults in
``objects.py``). Only the facts clients need are kept: names, scope, verbs, subresources,
whether ``metadata.generation`` is maintained, and which storage they share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ALL_VERBS", "BUILTIN_TYPES", "ResourceType"]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """One served resource in one group version (a CRD version becomes one of these)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    generation: bool = False
    verbs: tuple[str, ...] = ALL_VERBS
    singular: str = ""
    custom: bool = False
    storage: str = ""
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)

    @property
    def api_version(self) -> str:
        """``apiVersion`` of objects of this type."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular_name(self) -> str:
        """The singular name (kopf requires ``singularName`` in discovery)."""
        return self.singular or self.kind.lower()

    @property
    def storage_key(self) -> str:
        """Objects of all versions (and of aliases such as events.k8s.io Events) share one store."""
        return self.storage or f"{self.plural}.{self.group}"

    @property
    def has_status(self) -> bool:
        """Whether ``/status`` is a separate subresource (main writes then ignore ``.status``)."""
        return "status" in self.subresources

    @property
    def group_resource(self) -> str:
        """``plural.group`` as used in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _t(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
    generation: bool = False,
    categories: tuple[str, ...] = (),
    storage: str = "",
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        subresources=sub,
        generation=generation,
        categories=categories,
        storage=storage,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _t("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",), sub=("status", "finalize")),
    _t("", "v1", "events", "Event", short=("ev",), storage="events."),
    _t("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _t("", "v1", "secrets", "Secret"),
    _t("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _t("", "v1", "pods", "Pod", short=("po",), sub=("status", "log"), categories=("all",)),
    _t("", "v1", "services", "Service", short=("svc",), sub=("status",), categories=("all",)),
    _t("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _t("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), sub=("status",)),
    _t("", "v1", "resourcequotas", "ResourceQuota", short=("quota",), sub=("status",)),
    _t("", "v1", "limitranges", "LimitRange", short=("limits",)),
    _t("", "v1", "nodes", "Node", namespaced=False, short=("no",), sub=("status",)),
    _t(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        sub=("status", "scale"),
        generation=True,
        categories=("all",),
    ),
    _t(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short=("rs",),
        sub=("status", "scale"),
        generation=True,
        categories=("all",),
    ),
    _t(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short=("sts",),
        sub=("status", "scale"),
        generation=True,
        categories=("all",),
    ),
    _t(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short=("ds",),
        sub=("status",),
        generation=True,
        categories=("all",),
    ),
    _t("apps", "v1", "controllerrevisions", "ControllerRevision"),
    _t("batch", "v1", "jobs", "Job", sub=("status",), generation=True, categories=("all",)),
    _t(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        short=("cj",),
        sub=("status",),
        generation=True,
        categories=("all",),
    ),
    _t(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short=("pdb",),
        sub=("status",),
        generation=True,
    ),
    _t(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        sub=("status",),
        categories=("all",),
    ),
    _t("coordination.k8s.io", "v1", "leases", "Lease"),
    _t("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",), generation=True),
    _t("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), sub=("status",), generation=True),
    _t("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _t("events.k8s.io", "v1", "events", "Event", short=("ev",), storage="events."),
    _t("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _t("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _t("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _t("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _t(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short=("crd", "crds"),
        sub=("status",),
        generation=True,
        categories=("api-extensions",),
    ),
)
