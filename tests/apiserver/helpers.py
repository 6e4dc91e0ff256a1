"""Shared bits of the emulator tests: the Widget test CRD and client shortcuts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

DATA = Path(__file__).parent / "data"
GROUP, VERSION, PLURAL = "example.mloop.io", "v1", "widgets"


def widget_crd() -> dict[str, Any]:
    """The Widget CRD (enum, default, status subresource, printer columns)."""
    loaded: dict[str, Any] = yaml.safe_load((DATA / "widgets-crd.yaml").read_text())
    return loaded


def register_widgets(api: client.ApiClient) -> None:
    """Create the Widget CRD."""
    client.ApiextensionsV1Api(api).create_custom_resource_definition(widget_crd())


def widget(name: str, task: str = "regression", **spec: Any) -> dict[str, Any]:
    """A Widget body."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"problem": {"task": task}, **spec},
    }


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until ``check`` returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.05)
