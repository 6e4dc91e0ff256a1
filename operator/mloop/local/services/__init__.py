"""Services on loopback: the ClusterIP allocator, endpoints controller and kube-proxy of the embedded
control plane (``python -m mloop.local.services --kubeconfig PATH``).

Every ClusterIP Service gets an address from 127.2.0.0/16 in ``spec.clusterIP`` and one TCP listener per
port on it; ``type: NodePort`` Services also listen on ``127.0.0.1:<nodePort>``, the host port for users.
"""

from .allocator import CLUSTER_IP_RANGE, NODE_PORT_RANGE, ClusterIPAllocator, NodePortAllocator
from .controller import ServiceController
from .endpoints import Backend, backends_for_port, build_endpoints, build_subsets, pod_is_ready
from .proxy import Listener, ListenerSpec, ServiceProxy

__all__ = [
    "CLUSTER_IP_RANGE",
    "NODE_PORT_RANGE",
    "Backend",
    "ClusterIPAllocator",
    "Listener",
    "ListenerSpec",
    "NodePortAllocator",
    "ServiceController",
    "ServiceProxy",
    "backends_for_port",
    "build_endpoints",
    "build_subsets",
    "pod_is_ready",
]
