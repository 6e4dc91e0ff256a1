"""The objects in ``examples/``, as the integration tests apply them (in the ``default`` namespace)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

__all__ = ["EXAMPLES", "example"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> dict[str, Any]:
    """A fresh copy of ``examples/<name>``, moved to the ``default`` namespace."""
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((EXAMPLES / name).read_text()))
    body["metadata"]["namespace"] = "default"
    return body
