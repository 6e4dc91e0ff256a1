"""The embedded control plane: a Kubernetes API emulator (and, later, a pod runner and service proxy)."""
