"""The chart's RBAC, statically: least privilege in both modes, and a justification for every rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.packaging.chart import NAMESPACE, VALUE_SETS, of_kind, render
from tests.packaging.rbac import Request, allowed, cluster_grants

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "mloop"


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_no_wildcards_anywhere(name: str) -> None:
    for obj in render(VALUE_SETS[name]):
        for rule in obj.get("rules") or []:
            for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in (rule.get(field) or []), f"{obj['kind']}/{obj['metadata']['name']}: {rule}"


def test_cluster_mode_reads_secrets_only_in_project_namespaces() -> None:
    objects = render()
    assert allowed(objects, ACCOUNT, NAMESPACE, Request("get", "", "secrets", "default"))
    assert not allowed(objects, ACCOUNT, NAMESPACE, Request("get", "", "secrets", "kube-system"))
    assert not allowed(objects, ACCOUNT, NAMESPACE, Request("list", "", "secrets", "default"))
    assert not allowed(objects, ACCOUNT, NAMESPACE, Request("get", "", "secrets", ""))
    for binding in of_kind(objects, "ClusterRoleBinding"):
        (role,) = [
            r for r in of_kind(objects, "ClusterRole") if r["metadata"]["name"] == binding["roleRef"]["name"]
        ]
        assert all("secrets" not in rule["resources"] for rule in role["rules"]), "cluster-wide Secret read"
    assert allowed(objects, ACCOUNT, NAMESPACE, Request("watch", "mloop.io", "mlprojects", ""))
    assert not allowed(objects, ACCOUNT, NAMESPACE, Request("list", "", "namespaces", ""))


def test_namespaced_mode_grants_only_in_the_watched_namespaces() -> None:
    objects = render(VALUE_SETS["namespaced"])
    clusterroles = of_kind(objects, "ClusterRole")
    assert [r["metadata"]["name"] for r in clusterroles] == ["mloop-crds"]
    assert {(rule["apiGroups"][0], tuple(rule["resources"])) for rule in clusterroles[0]["rules"]} == {
        ("apiextensions.k8s.io", ("customresourcedefinitions",))
    }
    assert sorted(r["metadata"]["namespace"] for r in of_kind(objects, "Role")) == ["team-a", "team-b"]
    for namespace in ("team-a", "team-b"):
        assert allowed(objects, ACCOUNT, NAMESPACE, Request("get", "", "secrets", namespace))
        assert allowed(objects, ACCOUNT, NAMESPACE, Request("create", "batch", "jobs", namespace))
        assert allowed(objects, ACCOUNT, NAMESPACE, Request("watch", "mloop.io", "trainingruns", namespace))
    for request in (
        Request("get", "", "secrets", "default"),
        Request("watch", "mloop.io", "trainingruns", ""),
        Request("list", "", "namespaces", ""),
        Request("create", "batch", "jobs", "default"),
    ):
        assert not allowed(objects, ACCOUNT, NAMESPACE, request), request


def documented_rules(section: str = "## Every rule") -> set[tuple[str, str, str]]:
    """(verb, group, resource) rows of a table in docs/rbac.md (the justification table by default)."""
    text = (ROOT / "docs" / "rbac.md").read_text()
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in body.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0] or set(cells[0]) <= {"-", " "} or cells[0] == "API group":
            continue
        group = "" if cells[0] == "core" else cells[0]
        assert cells[3], f"docs/rbac.md: no reason for {cells[:3]}"
        for resource in re.split(r",\s*", cells[1]):
            for verb in re.split(r",\s*", cells[2]):
                rows.add((verb, group, resource))
    return rows


@pytest.mark.parametrize("name", ["defaults", "namespaced"])
def test_every_granted_permission_is_justified_in_the_docs(name: str) -> None:
    granted = cluster_grants(render(VALUE_SETS[name]))
    missing = granted - documented_rules()
    assert not missing, f"rules without a row in docs/rbac.md: {sorted(missing)}"
