"""The local pod runner of the embedded control plane: a small kubelet plus the Job, Deployment and
ReplicaSet controllers, for mloop's own images (run as local processes, not containers).

It speaks only HTTP to the API (so it works against the emulator in another process or a real
server), runs each pod on its own loopback address from 127.1.0.0/16, and stops every process it
started when it exits. See ``README.md`` in this package for what it emulates and what it does not.
"""

from __future__ import annotations

from .process import kill_leftovers
from .runner import PodRunner, RunnerConfig

__all__ = ["PodRunner", "RunnerConfig", "kill_leftovers"]
