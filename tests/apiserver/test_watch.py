"""Watch semantics over real HTTP: resume from a resourceVersion, bookmarks, 410, selectors, timeouts."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.fixtures.apiserver import ApiServerHandle

pytestmark = pytest.mark.integration


def _stream(url: str, timeout: float = 10) -> list[dict[str, Any]]:
    """Read a whole watch stream (it must end by itself: timeoutSeconds, a cut or an error)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return [json.loads(line) for line in response.read().splitlines() if line.strip()]


def _cm(core: client.CoreV1Api, name: str, **labels: str) -> client.V1ConfigMap:
    return core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})


def test_watch_from_resource_version_replays_only_later_events(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    _cm(core, "before")
    list_rv = core.list_namespaced_config_map("default").metadata.resource_version
    _cm(core, "after")
    core.patch_namespaced_config_map("before", "default", {"data": {"x": "1"}})
    core.delete_namespaced_config_map("after", "default")
    events = _stream(
        f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={list_rv}&timeoutSeconds=1"
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "after"),
        ("MODIFIED", "before"),
        ("DELETED", "after"),
    ]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs)
    assert rvs[0] > int(list_rv)


def test_watch_without_resource_version_sends_current_objects_then_follows(
    apiserver: ApiServerHandle,
) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    _cm(core, "one")
    seen: list[tuple[str, str]] = []
    stream = watch.Watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=5)
    for event in stream:
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 1:
            _cm(core, "two")
        if len(seen) == 2:
            break
    assert seen == [("ADDED", "one"), ("ADDED", "two")]


def test_bookmarks(apiserver: ApiServerHandle) -> None:
    apiserver.server.bookmark_interval = 0.2
    core = client.CoreV1Api(apiserver.api_client())
    _cm(core, "x")
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    events = _stream(
        f"{apiserver.url}/api/v1/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=2"
    )
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 2
    assert bookmarks[0]["object"]["kind"] == "ConfigMap"
    assert int(bookmarks[-1]["object"]["metadata"]["resourceVersion"]) >= int(rv)
    plain = _stream(f"{apiserver.url}/api/v1/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    assert plain == []


def test_too_old_resource_version_is_410(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    _cm(core, "a")
    old_rv = core.list_namespaced_config_map("default").metadata.resource_version
    _cm(core, "b")
    apiserver.server.compact_history()
    events = _stream(
        f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={old_rv}"
    )
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=old_rv, timeout_seconds=2
        ):
            pass
    assert err.value.status == 410


def test_watch_honours_selectors_and_transitions(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    _cm(core, "a", app="x")
    _cm(core, "b", app="y")
    core.patch_namespaced_config_map("b", "default", {"metadata": {"labels": {"app": "x"}}})
    core.patch_namespaced_config_map("a", "default", {"metadata": {"labels": {"app": "z"}}})
    events = _stream(
        f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=true&labelSelector=app%3Dx&resourceVersion={rv}&timeoutSeconds=1"
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    by_name = _stream(
        f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Db&timeoutSeconds=1"
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in by_name] == [("ADDED", "b")]


def test_timeout_ends_stream_cleanly(apiserver: ApiServerHandle) -> None:
    started = time.monotonic()
    assert (
        _stream(
            f"{apiserver.url}/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1"
        )
        == []
    )
    assert 0.9 < time.monotonic() - started < 3
