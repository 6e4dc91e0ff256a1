"""Apply mloop's CRDs to the emulator, rendered in process from the API models (no file lookup, so an
installed wheel and a checkout behave alike), and wait until each is ``Established``."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import yaml

__all__ = ["LOCAL_S3_SECRET", "apply_crds", "ensure_s3_secret"]

#: The Secret every namespace-default workload of the embedded plane reads its S3 credentials from.
LOCAL_S3_SECRET = "mloop-s3"  # noqa: S105 - a Secret name, not a secret

_CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _call(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - our own http URL
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def apply_crds(api_url: str, timeout: float = 20.0) -> list[str]:
    """Create or replace every CRD; returns their names once all are established."""
    from mloop.crdgen import render_all  # noqa: PLC0415 - pydantic models load only when CRDs are applied

    names = []
    for text in render_all().values():
        crd = yaml.safe_load(text)
        name = crd["metadata"]["name"]
        try:
            _call("POST", api_url + _CRDS, crd)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise
            current = _call("GET", f"{api_url}{_CRDS}/{name}")
            crd["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            _call("PUT", f"{api_url}{_CRDS}/{name}", crd)
        names.append(name)
    deadline = time.monotonic() + timeout
    for name in names:
        while not _established(_call("GET", f"{api_url}{_CRDS}/{name}")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not Established after {timeout}s")
            time.sleep(0.1)
    return names


def _established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def ensure_s3_secret(api_url: str, access_key: str, secret_key: str, namespace: str = "default") -> None:
    """The local S3 credentials as a Secret: training, serving and drift pods get them by reference only."""
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": LOCAL_S3_SECRET,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "mloop"},
        },
        "stringData": {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
    }
    try:
        _call("POST", f"{api_url}/api/v1/namespaces/{namespace}/secrets", body)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
