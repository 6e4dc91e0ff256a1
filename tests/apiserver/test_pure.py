"""Pure pieces of the emulator, tested without a server: patches, selectors, JSONPath, tables, routing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from mloop.local.apiserver.builtin import BUILTIN_TYPES
from mloop.local.apiserver.jsonpath import JsonPathError, find
from mloop.local.apiserver.patch import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from mloop.local.apiserver.protobuf import ProtobufError, decode_object
from mloop.local.apiserver.registry import types_from_crd
from mloop.local.apiserver.routing import Target, parse_path
from mloop.local.apiserver.schema import unknown_fields
from mloop.local.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    selector_from_label_selector,
)
from mloop.local.apiserver.table import human_duration, to_table
from tests.apiserver.helpers import widget_crd


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}}, {"a": 1, "b": {"c": 2, "d": 3}}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
        ({}, {"a": {"b": None}}, {"a": {}}),
    ],
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(target, patch) == expected


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "x", "k~/": 1}
    ops = [
        {"op": "add", "path": "/a/b/-", "value": 3},
        {"op": "add", "path": "/a/b/0", "value": 0},
        {"op": "remove", "path": "/c"},
        {"op": "replace", "path": "/k~0~1", "value": 2},
        {"op": "copy", "from": "/a/b", "path": "/copy"},
        {"op": "move", "from": "/copy", "path": "/moved"},
        {"op": "test", "path": "/moved/3", "value": 3},
    ]
    assert apply_json_patch(doc, ops) == {"a": {"b": [0, 1, 2, 3]}, "k~/": 2, "moved": [0, 1, 2, 3]}
    assert doc["c"] == "x"  # the input is untouched


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/a/9", "value": 1}],
        [{"op": "bogus", "path": "/a"}],
        {"op": "add"},
    ],
)
def test_json_patch_errors(ops: Any) -> None:
    with pytest.raises(PatchError):
        apply_json_patch({"a": [1]}, ops)


def test_json_patch_failed_test_is_flagged() -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert err.value.test_failed


def test_strategic_merge_patch_merges_lists_by_key() -> None:
    live = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "1",
                    "env": [{"name": "X", "value": "1"}],
                    "ports": [{"containerPort": 80}],
                },
                {"name": "b", "image": "2"},
            ],
            "conditions": [{"type": "Ready", "status": "False"}],
            "args": ["x", "y"],
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [
                {"name": "a", "image": "3", "env": [{"name": "Y", "value": "2"}]},
                {"name": "b", "$patch": "delete"},
            ],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}],
            "args": ["z"],
        }
    }
    result = apply_strategic_merge_patch(live, patch)
    spec = result["spec"]
    assert [c["name"] for c in spec["containers"]] == ["a"]
    assert spec["containers"][0]["image"] == "3"
    assert spec["containers"][0]["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert spec["containers"][0]["ports"] == [{"containerPort": 80}]
    assert spec["conditions"] == [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}]
    assert spec["args"] == ["z"]
    assert apply_strategic_merge_patch({"m": {"a": 1, "b": 2}}, {"m": {"$patch": "replace", "c": 3}}) == {
        "m": {"c": 3}
    }
    assert apply_strategic_merge_patch({"l": [1, 2, 3]}, {"$deleteFromPrimitiveList/l": [2]}) == {"l": [1, 3]}


def _labels(**labels: str) -> dict[str, Any]:
    return {"metadata": {"labels": labels}}


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("", {}, True),
        ("a=1", {"a": "1"}, True),
        ("a==1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a!=1", {"a": "1"}, False),
        ("a in (1, 2),b", {"a": "2", "b": "x"}, True),
        ("a notin (1,2)", {"a": "3"}, True),
        ("a notin (1,2)", {}, True),
        ("!a", {"a": "1"}, False),
        ("a", {"a": ""}, True),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "4"}, False),
        ("app.kubernetes.io/name=x", {"app.kubernetes.io/name": "x"}, True),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert LabelSelector.parse(selector).matches(_labels(**labels)) is matches


def test_selector_errors_and_rendering() -> None:
    with pytest.raises(SelectorError):
        LabelSelector.parse("a in 1")
    with pytest.raises(SelectorError):
        FieldSelector.parse("metadata.name")
    rendered = selector_from_label_selector(
        {
            "matchLabels": {"app": "x"},
            "matchExpressions": [
                {"key": "t", "operator": "In", "values": ["a", "b"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert rendered == "app=x,t in (a,b),!legacy"
    assert LabelSelector.parse(rendered).matches(_labels(app="x", t="b"))


def test_field_selector() -> None:
    event = {
        "metadata": {"name": "e", "namespace": "ns"},
        "involvedObject": {"name": "w", "uid": "u1"},
        "status": {},
    }
    assert FieldSelector.parse("involvedObject.name=w,metadata.namespace==ns").matches(event)
    assert not FieldSelector.parse("involvedObject.uid!=u1").matches(event)
    assert FieldSelector.parse("status.phase!=Running").matches(event)


OBJ = {
    "metadata": {"name": "x", "labels": {"a.b/c": "v"}},
    "spec": {"problem": {"task": "regression"}, "list": [{"n": 1}, {"n": 2}]},
    "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.problem.task", ["regression"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type!='Ready')].type", ["Synced"]),
        (".spec.list[*].n", [1, 2]),
        (".spec.list[1].n", [2]),
        (".spec.list[-1].n", [2]),
        ("{.metadata.labels['a.b/c']}", ["v"]),
        (".spec.missing.deeper", []),
    ],
)
def test_jsonpath(path: str, expected: list[Any]) -> None:
    assert find(OBJ, path) == expected


def test_jsonpath_rejects_unsupported() -> None:
    with pytest.raises(JsonPathError):
        find(OBJ, "..recursive")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (10 * 3600, "10h"),
        (3 * 86400, "3d"),
        (3 * 86400 + 3600, "3d1h"),
        (30 * 86400, "30d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_crd_table_columns() -> None:
    rt = next(t for t in types_from_crd({**widget_crd(), "metadata": {"name": "widgets.example.mloop.io"}}))
    obj = {**OBJ, "apiVersion": "example.mloop.io/v1", "kind": "Widget"}
    obj["metadata"] = {**OBJ["metadata"], "creationTimestamp": "2020-01-01T00:00:00Z"}
    obj["spec"] = {**OBJ["spec"], "size": "not-an-int"}
    table = to_table(rt, [obj], "Metadata", {"resourceVersion": "7"})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Task", "Size", "Ready", "Age"]
    cells = table["rows"][0]["cells"]
    assert cells[:4] == ["x", "regression", None, "True"]
    assert cells[4].endswith("y") or cells[4].endswith("d")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_builtin_table_for_pods() -> None:
    pods = next(t for t in BUILTIN_TYPES if t.plural == "pods")
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 2}]},
    }
    table = to_table(pods, [pod], "None", {})
    assert table["rows"][0]["cells"][:4] == ["p", "1/2", "Running", "2"]
    assert "object" not in table["rows"][0]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/pods", Target("", "v1", "pods")),
        ("/api/v1/namespaces", Target("", "v1", "namespaces")),
        ("/api/v1/namespaces/ns1", Target("", "v1", "namespaces", name="ns1")),
        ("/api/v1/namespaces/ns1/status", Target("", "v1", "namespaces", name="ns1", subresource="status")),
        ("/api/v1/namespaces/ns1/pods", Target("", "v1", "pods", namespace="ns1")),
        ("/api/v1/namespaces/ns1/pods/p/log", Target("", "v1", "pods", "ns1", "p", "log")),
        (
            "/apis/apps/v1/namespaces/d/deployments/x/scale",
            Target("apps", "v1", "deployments", "d", "x", "scale"),
        ),
        ("/apis/g.io/v1/widgets", Target("g.io", "v1", "widgets")),
        ("/api/v1/watch/namespaces/n/configmaps", Target("", "v1", "configmaps", "n", watch_prefix=True)),
        ("/apis/apps/v1", None),
        ("/version", None),
    ],
)
def test_parse_path(path: str, expected: Target | None) -> None:
    assert parse_path(path) == expected


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_configmap_and_secret() -> None:
    meta = _field(1, b"cfg") + _field(3, b"ns") + _field(11, _field(1, b"app") + _field(2, b"x"))

    def envelope(kind: bytes, body: bytes) -> bytes:
        return b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, kind)) + _field(2, body)

    configmap = decode_object(
        envelope(b"ConfigMap", _field(1, meta) + _field(2, _field(1, b"a") + _field(2, b"b")))
    )
    assert configmap == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "ns", "labels": {"app": "x"}},
        "data": {"a": "b"},
    }
    secret = decode_object(
        envelope(b"Secret", _field(1, meta) + _field(2, _field(1, b"k") + _field(2, b"\x00\x01")))
    )
    assert secret["data"] == {"k": base64.b64encode(b"\x00\x01").decode()}
    with pytest.raises(ProtobufError):
        decode_object(envelope(b"Pod", b""))


def test_unknown_fields_lists_pruned_paths() -> None:
    before = {"spec": {"a": 1, "typo": 2, "items": [{"x": 1, "y": 2}]}, "extra": {}}
    after = {"spec": {"a": 1, "items": [{"x": 1}]}}
    assert unknown_fields(before, after) == ["spec.typo", "spec.items[0].y", "extra"]
