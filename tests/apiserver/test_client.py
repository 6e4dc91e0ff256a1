"""The emulator through the official ``kubernetes`` client: CRUD, concurrency, generation,
status separation, finalizers, garbage collection, selectors, validation."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.apiserver.helpers import GROUP, PLURAL, VERSION, eventually, register_widgets, widget
from tests.fixtures.apiserver import ApiServerHandle

pytestmark = pytest.mark.integration


def _body(error: ApiException) -> dict:
    return json.loads(error.body)


def test_namespaces_exist_at_start(apiserver: ApiServerHandle) -> None:
    names = {ns.metadata.name for ns in client.CoreV1Api(apiserver.api_client()).list_namespace().items}
    assert {"default", "kube-system"} <= names


def test_configmap_crud_and_conflict(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    created = core.create_namespaced_config_map("default", {"metadata": {"name": "c1"}, "data": {"a": "1"}})
    assert created.metadata.uid
    assert created.metadata.creation_timestamp
    rv1 = created.metadata.resource_version
    got = core.read_namespaced_config_map("c1", "default")
    assert got.data == {"a": "1"}
    assert got.metadata.resource_version == rv1

    got.data["a"] = "2"
    replaced = core.replace_namespaced_config_map("c1", "default", got)
    assert int(replaced.metadata.resource_version) > int(rv1)

    stale = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1", resource_version=rv1), data={"a": "3"})
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("c1", "default", stale)
    assert err.value.status == 409
    assert _body(err.value)["reason"] == "Conflict"

    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "c1", "default", {"metadata": {"resourceVersion": rv1}, "data": {"b": "x"}}
        )
    assert err.value.status == 409

    patched = core.patch_namespaced_config_map("c1", "default", {"data": {"b": "x"}})
    assert patched.data == {"a": "2", "b": "x"}

    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c1"}})
    assert err.value.status == 409
    assert _body(err.value)["reason"] == "AlreadyExists"

    core.delete_namespaced_config_map("c1", "default")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("c1", "default")
    body = _body(err.value)
    assert err.value.status == 404
    assert body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "c1" not found'


def test_json_patch_and_generate_name(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    created = core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "gen-"}, "data": {"k": "v"}}
    )
    name = created.metadata.name
    assert name.startswith("gen-")
    assert len(name) == len("gen-") + 5
    ops = [{"op": "test", "path": "/data/k", "value": "v"}, {"op": "add", "path": "/data/n", "value": "1"}]
    result = core.patch_namespaced_config_map(name, "default", ops)  # a list body is sent as JSON patch
    assert result.data == {"k": "v", "n": "1"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            name, "default", [{"op": "test", "path": "/data/k", "value": "other"}]
        )
    assert err.value.status == 422


def test_missing_namespace_is_404(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert err.value.status == 404
    assert _body(err.value)["message"] == 'namespaces "nowhere" not found'


def test_generation_and_status_subresource(apiserver: ApiServerHandle) -> None:
    api = apiserver.api_client()
    register_widgets(api)
    custom = client.CustomObjectsApi(api)
    obj = custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, {**widget("w"), "status": {"phase": "X"}}
    )
    assert obj["metadata"]["generation"] == 1
    assert "status" not in obj  # create ignores status when /status is a subresource
    assert obj["spec"]["size"] == 1  # schema default applied

    after_label = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"metadata": {"labels": {"a": "b"}}}
    )
    assert after_label["metadata"]["generation"] == 1

    after_spec = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"spec": {"size": 3}}
    )
    assert after_spec["metadata"]["generation"] == 2

    ignored = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"status": {"phase": "Main"}}
    )
    assert "status" not in ignored

    status = custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        "w",
        {"status": {"phase": "Ready", "observedGeneration": 2}, "spec": {"size": 9}},
    )
    assert status["status"]["phase"] == "Ready"
    assert status["spec"]["size"] == 3  # /status ignores everything but status
    assert status["metadata"]["generation"] == 2

    unchanged = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "w", {"spec": {"size": 3}}
    )
    assert unchanged["metadata"]["resourceVersion"] == status["metadata"]["resourceVersion"]  # no-op write


def test_schema_violation_is_422_with_field_path(apiserver: ApiServerHandle) -> None:
    api = apiserver.api_client()
    register_widgets(api)
    custom = client.CustomObjectsApi(api)
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("bad", task="clustering")
        )
    body = _body(err.value)
    assert err.value.status == 422
    assert body["kind"] == "Status"
    assert body["reason"] == "Invalid"
    assert body["code"] == 422
    assert body["message"].startswith(
        'Widget.example.mloop.io "bad" is invalid: spec.problem.task: Unsupported value: "clustering"'
    )
    cause = body["details"]["causes"][0]
    assert cause["field"] == "spec.problem.task"
    assert cause["reason"] == "FieldValueNotSupported"
    assert body["details"]["kind"] == "Widget"
    assert body["details"]["group"] == GROUP


def test_unknown_fields_are_pruned(apiserver: ApiServerHandle) -> None:
    api = apiserver.api_client()
    register_widgets(api)
    custom = client.CustomObjectsApi(api)
    obj = custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, widget("p", extra=1, free={"kept": {"deep": True}})
    )
    assert "extra" not in obj["spec"]
    assert obj["spec"]["free"] == {"kept": {"deep": True}}


def test_crd_registers_and_deleting_it_deletes_objects(apiserver: ApiServerHandle) -> None:
    api = apiserver.api_client()
    register_widgets(api)
    ext = client.ApiextensionsV1Api(api)
    crd = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status.accepted_names.kind == "Widget"
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert GROUP in groups
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, widget("a"))
    ext.delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    assert GROUP not in {g.name for g in client.ApisApi(api).get_api_versions().groups}
    register_widgets(api)
    assert custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)["items"] == []


def test_finalizers_keep_object_until_removed(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "f", "finalizers": ["example.com/hold"]}}
    )
    core.delete_namespaced_config_map("f", "default")
    held = core.read_namespaced_config_map("f", "default")
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.deletion_grace_period_seconds == 0
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "f", "default", {"metadata": {"finalizers": ["example.com/hold", "new"]}}
        )
    assert err.value.status == 422
    core.patch_namespaced_config_map("f", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("f", "default")
    assert err.value.status == 404


def _owned(name: str, owner: client.V1ConfigMap, finalizers: list[str] | None = None) -> dict:
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid}
    return {"metadata": {"name": name, "ownerReferences": [ref], "finalizers": finalizers or []}}


def test_owner_reference_cascade(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map("default", _owned("child", owner))
    core.create_namespaced_config_map("default", _owned("held", owner, ["example.com/hold"]))
    grandchild_owner = core.read_namespaced_config_map("child", "default")
    core.create_namespaced_config_map("default", _owned("grandchild", grandchild_owner))
    core.delete_namespaced_config_map("owner", "default")

    def names() -> set[str]:
        return {c.metadata.name for c in core.list_namespaced_config_map("default").items}

    eventually(lambda: names() == {"held"})
    assert core.read_namespaced_config_map("held", "default").metadata.deletion_timestamp is not None


def test_orphan_and_foreground_policies(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "o1"}})
    core.create_namespaced_config_map("default", _owned("kept", owner))
    core.delete_namespaced_config_map("o1", "default", propagation_policy="Orphan")
    kept = core.read_namespaced_config_map("kept", "default")
    assert not kept.metadata.owner_references

    owner = core.create_namespaced_config_map("default", {"metadata": {"name": "o2"}})
    core.create_namespaced_config_map("default", _owned("blocker", owner, ["example.com/hold"]))
    core.delete_namespaced_config_map("o2", "default", propagation_policy="Foreground")
    waiting = core.read_namespaced_config_map("o2", "default")
    assert "foregroundDeletion" in waiting.metadata.finalizers
    core.patch_namespaced_config_map("blocker", "default", {"metadata": {"finalizers": None}})
    eventually(
        lambda: (
            not {"o2", "blocker"}
            & {c.metadata.name for c in core.list_namespaced_config_map("default").items}
        )
    )


def test_namespace_deletion_removes_contents(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    core.create_namespace({"metadata": {"name": "gone"}})
    core.create_namespaced_config_map("gone", {"metadata": {"name": "x"}})
    core.delete_namespace("gone")
    with pytest.raises(ApiException) as err:
        core.read_namespace("gone")
    assert err.value.status == 404
    assert core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=gone").items == []


def test_label_and_field_selectors_and_pagination(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    core.create_namespace({"metadata": {"name": "other"}})
    for i, (env, tier) in enumerate([("prod", "web"), ("prod", "db"), ("dev", "web"), ("test", None)]):
        labels = {"env": env} | ({"tier": tier} if tier else {})
        core.create_namespaced_config_map(
            "default" if i < 3 else "other", {"metadata": {"name": f"c{i}", "labels": labels}}
        )

    def names(**kwargs: str) -> list[str]:
        return sorted(c.metadata.name for c in core.list_config_map_for_all_namespaces(**kwargs).items)

    assert names(label_selector="env=prod") == ["c0", "c1"]
    assert names(label_selector="env==prod,tier=web") == ["c0"]
    assert names(label_selector="env!=prod") == ["c2", "c3"]
    assert names(label_selector="env in (dev,test)") == ["c2", "c3"]
    assert names(label_selector="env notin (dev,test),tier") == ["c0", "c1"]
    assert names(label_selector="!tier") == ["c3"]
    assert names(field_selector="metadata.namespace=other") == ["c3"]
    assert names(field_selector="metadata.name!=c0,metadata.namespace=default") == ["c1", "c2"]

    first = core.list_namespaced_config_map("default", limit=2)
    assert [c.metadata.name for c in first.items] == ["c0", "c1"]
    assert first.metadata._continue
    assert first.metadata.remaining_item_count == 1
    second = core.list_namespaced_config_map("default", limit=2, _continue=first.metadata._continue)
    assert [c.metadata.name for c in second.items] == ["c2"]
    assert not second.metadata._continue


def test_events_with_involved_object_selector(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    for name in ("a", "b"):
        core.create_namespaced_event(
            "default",
            {
                "metadata": {"generateName": "ev-"},
                "involvedObject": {"kind": "Widget", "name": name, "uid": f"u-{name}"},
                "reason": "Tested",
                "message": f"about {name}",
                "type": "Normal",
                "eventTime": "2025-01-01T00:00:00.000000Z",
            },
        )
    found = core.list_namespaced_event("default", field_selector="involvedObject.name=a")
    assert [e.message for e in found.items] == ["about a"]
    assert len(core.list_namespaced_event("default", field_selector="involvedObject.uid=u-b").items) == 1
    events_v1 = client.EventsV1Api(apiserver.api_client()).list_namespaced_event("default")
    assert sorted(e.note for e in events_v1.items) == ["about a", "about b"]


def test_deployment_scale_and_strategic_merge(apiserver: ApiServerHandle) -> None:
    apps = client.AppsV1Api(apiserver.api_client())
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {
                    "containers": [
                        {"name": "a", "image": "x", "env": [{"name": "K", "value": "1"}]},
                        {"name": "b", "image": "y"},
                    ]
                },
            },
        },
    }
    created = apps.create_namespaced_deployment("default", deployment)
    assert created.spec.replicas == 1
    assert created.metadata.generation == 1
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "L", "value": "2"}]}]}}}
    }
    patched = apps.patch_namespaced_deployment("d", "default", patch)  # the client sends strategic merge
    containers = patched.spec.template.spec.containers
    assert [c.name for c in containers] == ["a", "b"]
    assert [(e.name, e.value) for e in containers[0].env] == [("K", "1"), ("L", "2")]
    scale = apps.patch_namespaced_deployment_scale("d", "default", {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4
    assert scale.status.selector == "app=d"
    assert apps.read_namespaced_deployment("d", "default").spec.replicas == 4
    status = apps.patch_namespaced_deployment_status(
        "d", "default", {"status": {"readyReplicas": 4, "replicas": 4}}
    )
    assert status.status.ready_replicas == 4
    assert status.metadata.generation == 3


def test_pod_log_and_dry_run(apiserver: ApiServerHandle) -> None:
    core = client.CoreV1Api(apiserver.api_client())
    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running"},
    }
    created = core.create_namespaced_pod("default", pod)
    assert created.status.phase == "Pending"
    apiserver.server.set_pod_log("default", "p", "line 1\nline 2\n")
    assert core.read_namespaced_pod_log("p", "default") == "line 1\nline 2\n"
    assert core.read_namespaced_pod_log("p", "default", tail_lines=1) == "line 2\n"
    core.create_namespaced_config_map("default", {"metadata": {"name": "dry"}}, dry_run="All")
    assert core.list_namespaced_config_map("default").items == []
