"""The operator's one clock read; the pure core always gets ``now`` passed in."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utcnow"]


def utcnow() -> datetime:
    """Kubernetes times have second precision; rounding keeps re-written statuses byte-identical."""
    return datetime.now(UTC).replace(microsecond=0)
