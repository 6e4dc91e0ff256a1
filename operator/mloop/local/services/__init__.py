"""Services on loopback: the ClusterIP allocator, endpoints controller and kube-proxy of the embedded
control plane (``python -m mloop.local.services --kubeconfig PATH``).

Every ClusterIP Service gets an address from 127.2.0.0/16 in ``spec.clusterIP`` and one TCP listener per
port on it; ``type: NodePort`` Services also listen on ``127.0.0.1:<nodePort>``, the host port for users.
Import the modules (``allocator``, ``endpoints``, ``proxy``, ``controller``) directly: the package stays light
so the CLI can read ``allocator.CLUSTER_IP_RANGE`` without loading aiohttp.
"""
