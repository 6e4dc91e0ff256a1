"""Fault injection and the request log, from Python and through the admin endpoints."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fixtures.apiserver import ApiServerHandle

pytestmark = pytest.mark.integration


def _admin(handle: ApiServerHandle, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{handle.url}/_emulator/{path}", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_429_with_retry_after(apiserver: ApiServerHandle) -> None:
    apiserver.faults.configure(fail_next_writes=1, write_failure_codes=[429], retry_after_seconds=3)
    core = client.CoreV1Api(apiserver.api_client())
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    assert err.value.status == 429
    assert err.value.headers["Retry-After"] == "3"
    assert json.loads(err.value.body)["reason"] == "TooManyRequests"
    core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})  # the next one passes
    assert core.list_namespaced_config_map("default").items  # reads are never failed


def test_seeded_failure_rate_is_reproducible(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())

    def run() -> list[int]:
        apiserver.faults.configure(seed=7, write_failure_rate=0.5, write_failure_codes=[500, 503])
        codes = []
        for i in range(20):
            try:
                core.create_namespaced_config_map("default", {"metadata": {"generateName": f"r{i}-"}})
                codes.append(201)
            except ApiException as error:
                codes.append(error.status)
        return codes

    first, second = run(), run()
    assert first == second
    assert {500, 503, 201} <= set(first)


def test_conflict_storm_and_admin_endpoint(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    settings = _admin(apiserver, "faults", {"conflict_next": 2})
    assert settings["conflict_next"] == 2
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
        assert err.value.status == 409
    core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
    _admin(apiserver, "faults", {"reset": True})
    assert apiserver.faults.conflict_next == 0


def test_watch_cut_every_n_events(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    for i in range(5):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"w{i}"}})
    apiserver.faults.configure(watch_cut_every=2)
    url = (
        f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=5"
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        lines = [line for line in response.read().splitlines() if line.strip()]
    assert len(lines) == 2


def test_request_log_and_write_counts(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    apiserver.server.clear_request_log()
    core.create_namespaced_config_map("default", {"metadata": {"name": "n"}})
    core.read_namespaced_config_map("n", "default")
    core.patch_namespaced_config_map("n", "default", {"data": {"a": "b"}})
    core.list_namespaced_config_map("default")
    assert apiserver.server.count_writes(resource="configmaps", name="n", namespace="default") == 2
    assert apiserver.server.count_writes(resource="configmaps", name="other") == 0
    verbs = [(r.verb, r.resource, r.name, r.status) for r in apiserver.server.request_log]
    assert verbs == [
        ("create", "configmaps", "n", 201),
        ("get", "configmaps", "n", 200),
        ("patch", "configmaps", "n", 200),
        ("list", "configmaps", "", 200),
    ]
    records = _admin(apiserver, "requests")
    assert [r["verb"] for r in records] == ["create", "get", "patch", "list"]
    assert _admin(apiserver, "health")["ok"] is True
