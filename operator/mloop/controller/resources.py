"""Where each mloop kind lives in the REST API, derived from the API package constants."""

from __future__ import annotations

from mloop.api import GROUP, VERSION
from mloop.k8s.gateway import ResourceType

__all__ = [
    "DRIFTMONITORS",
    "JOBS",
    "MLPROJECTS",
    "MODELDEPLOYMENTS",
    "MODELVERSIONS",
    "PODS",
    "TRAININGRUNS",
]

MLPROJECTS = ResourceType(GROUP, VERSION, "mlprojects")
TRAININGRUNS = ResourceType(GROUP, VERSION, "trainingruns")
MODELVERSIONS = ResourceType(GROUP, VERSION, "modelversions")
MODELDEPLOYMENTS = ResourceType(GROUP, VERSION, "modeldeployments")
DRIFTMONITORS = ResourceType(GROUP, VERSION, "driftmonitors")
JOBS = ResourceType("batch", "v1", "jobs")
PODS = ResourceType("", "v1", "pods")
