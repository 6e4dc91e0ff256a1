"""A focused Kubernetes API emulator on aiohttp: real object semantics for the kubernetes client,
kopf and kubectl, in memory, on 127.0.0.1 (plain HTTP, any token accepted).

Emulated: discovery (legacy, not aggregated), built-in resources (stored without schema), CRDs with
schema validation, defaults, pruning and strict field validation (via ``validation.py``),
resourceVersion and optimistic concurrency, generation, status and scale subresources, merge, JSON
and strategic-merge patches (server-side apply approximated as a merge, no managedFields),
finalizers and deletionTimestamp, namespace/CRD cleanup, ownerReference garbage collection,
selectors, pagination, watches with history, bookmarks and 410, Tables, pod logs, a request log
and fault injection. Not emulated: authentication, RBAC, admission webhooks, conversion webhooks,
controllers (nothing creates pods or fills Deployment/Job status), protobuf beyond
ConfigMap/Secret/Namespace bodies.
"""

from .builtin import ResourceType
from .errors import ApiError
from .faults import FaultInjector
from .requestlog import RequestRecord, count_writes
from .server import ApiServer

__all__ = ["ApiError", "ApiServer", "FaultInjector", "RequestRecord", "ResourceType", "count_writes"]
