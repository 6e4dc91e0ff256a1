"""Where each mloop kind lives in the REST API, derived from the API package constants."""

from __future__ import annotations

from mloop.api import GROUP, VERSION
from mloop.k8s.gateway import ResourceType

__all__ = [
    "DEPLOYMENTS",
    "DRIFTMONITORS",
    "HPAS",
    "HTTPROUTES",
    "JOBS",
    "MLPROJECTS",
    "MODELDEPLOYMENTS",
    "MODELVERSIONS",
    "PDBS",
    "PODS",
    "SERVICES",
    "TRAININGRUNS",
]

MLPROJECTS = ResourceType(GROUP, VERSION, "mlprojects")
TRAININGRUNS = ResourceType(GROUP, VERSION, "trainingruns")
MODELVERSIONS = ResourceType(GROUP, VERSION, "modelversions")
MODELDEPLOYMENTS = ResourceType(GROUP, VERSION, "modeldeployments")
DRIFTMONITORS = ResourceType(GROUP, VERSION, "driftmonitors")
JOBS = ResourceType("batch", "v1", "jobs")
DEPLOYMENTS = ResourceType("apps", "v1", "deployments")
SERVICES = ResourceType("", "v1", "services")
PDBS = ResourceType("policy", "v1", "poddisruptionbudgets")
HPAS = ResourceType("autoscaling", "v2", "horizontalpodautoscalers")
HTTPROUTES = ResourceType("gateway.networking.k8s.io", "v1", "httproutes")
PODS = ResourceType("", "v1", "pods")
