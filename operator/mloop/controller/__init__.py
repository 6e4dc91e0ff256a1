"""The operator's adapters (kopf handlers) and per-kind orchestration.

Importing this package registers the handlers and the start-up/clean-up hooks with kopf.
"""

from __future__ import annotations

from mloop.controller import handlers, startup

__all__ = ["handlers", "startup"]
