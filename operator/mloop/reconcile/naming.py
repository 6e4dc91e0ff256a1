"""Deterministic child names: the same parent always yields the same child, so a retry finds it."""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_NAME_LENGTH", "child_name", "dns_label"]

MAX_NAME_LENGTH = 63
_INVALID = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str) -> str:
    """Lower-case RFC 1123 label characters only, trimmed of leading and trailing dashes."""
    return _INVALID.sub("-", text.lower()).strip("-") or "x"


def child_name(*parts: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """Join ``parts`` with dashes; if too long, keep a prefix and add a short hash of the full name.

    The hash keeps two long parents that share a prefix from colliding.
    """
    full = "-".join(dns_label(part) for part in parts if part)
    if len(full) <= max_length:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: max_length - 9].rstrip('-')}-{digest}"
