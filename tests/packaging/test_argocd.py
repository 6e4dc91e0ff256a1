"""Argo CD health checks and resource actions, run in Lua 5.1 as Argo CD runs them, and their docs."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.chartgen.argocd import KINDS, argocd_customizations
from tests.packaging.lua import run_script

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "charts" / "mloop" / "argocd"
FIXTURES = Path(__file__).parent / "argocd"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def cases() -> list[Any]:
    found = []
    for kind in KINDS:
        for case in yaml.safe_load((FIXTURES / f"{kind}.yaml").read_text()):
            found.append(pytest.param(kind, case, id=f"{kind}: {case['name']}"))
    return found


@pytest.mark.parametrize(("kind", "case"), cases())
def test_health(kind: str, case: dict[str, Any]) -> None:
    obj = {"apiVersion": "mloop.io/v1alpha1", "kind": kind, **case["object"]}
    health = run_script(ARGOCD / "health" / f"{kind}.lua", obj)
    assert health["status"] == case["expect"], health
    assert health["message"]
    if "message" in case:
        assert health["message"] == case["message"]


def test_at_least_four_fixtures_per_kind_covering_every_status() -> None:
    seen: set[str] = set()
    for kind in KINDS:
        fixtures = yaml.safe_load((FIXTURES / f"{kind}.yaml").read_text())
        assert len(fixtures) >= 4, kind
        stale = [
            f
            for f in fixtures
            if "status" in f["object"]
            and f["object"]["status"].get("observedGeneration", 0) < f["object"]["metadata"]["generation"]
        ]
        assert all(f["expect"] == "Progressing" for f in stale), kind
        assert stale, f"{kind}: no fixture with a stale observedGeneration"
        seen |= {f["expect"] for f in fixtures}
    assert seen == {"Healthy", "Progressing", "Degraded", "Suspended"}


ACTIONS = {
    ("ModelDeployment", "promote"): "mloop.io/promote",
    ("ModelDeployment", "abort"): "mloop.io/abort",
    ("ModelDeployment", "rollback"): "mloop.io/rollback",
    ("ModelVersion", "approve"): "mloop.io/approved-by",
    ("MLProject", "retrain"): "mloop.io/retrain",
}


@pytest.mark.parametrize(("kind", "action"), sorted(ACTIONS))
@pytest.mark.parametrize("annotations", [None, {"team": "risk"}])
def test_actions_only_set_their_annotation(
    kind: str, action: str, annotations: dict[str, str] | None
) -> None:
    body = yaml.safe_load(
        (ROOT / "examples" / f"{ {'MLProject': 'mlproject'}.get(kind, kind.lower()) }.yaml").read_text()
    )
    if annotations is not None:
        body["metadata"]["annotations"] = dict(annotations)
    result = run_script(ARGOCD / "actions" / kind / action / "action.lua", copy.deepcopy(body))
    key = ACTIONS[kind, action]
    value = result["metadata"]["annotations"].pop(key)
    assert value == "argocd" if action == "approve" else TIMESTAMP.match(value), value
    assert result["metadata"]["annotations"] == (annotations or {})
    result["metadata"].pop("annotations")
    body["metadata"].pop("annotations", None)
    # Lua arrays cannot hold nil: a null inside a list (e.g. max_depth: [null, 5]) is lost on the way through
    # Argo CD's Lua too. docs/argocd.md warns about it; everything else must come back untouched.
    assert _same_ignoring_empty(result, _without_nulls_in_lists(body)), "an action must never change the spec"


def _without_nulls_in_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls_in_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nulls_in_lists(v) for v in value if v is not None]
    return value


def _same_ignoring_empty(a: Any, b: Any) -> bool:
    """Lua has one table type: an empty list comes back as an empty dict."""
    if isinstance(a, dict) and isinstance(b, list) and not a and not b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_ignoring_empty(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_ignoring_empty(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize(
    ("kind", "status", "enabled"),
    [
        ("ModelDeployment", {}, set()),
        ("ModelDeployment", {"stableVersion": "v1", "canaryVersion": "v2"}, {"promote", "abort", "rollback"}),
        ("ModelDeployment", {"stableVersion": "v2", "previousStableVersion": "v1"}, {"rollback"}),
        ("ModelVersion", {"stage": "rejected"}, set()),
        (
            "ModelVersion",
            {
                "stage": "candidate",
                "conditions": [{"type": "Approved", "status": "False", "reason": "AwaitingApproval"}],
            },
            {"approve"},
        ),
        ("MLProject", {}, {"retrain"}),
    ],
)
def test_discovery_offers_actions_when_they_make_sense(
    kind: str, status: dict[str, Any], enabled: set[str]
) -> None:
    actions = run_script(
        ARGOCD / "actions" / kind / "discovery.lua", {"metadata": {"name": "x"}, "status": status}
    )
    assert set(actions) == {a for k, a in ACTIONS if k == kind}
    assert {name for name, spec in actions.items() if not spec["disabled"]} == enabled


def test_every_action_has_a_script_and_every_kind_a_health_check() -> None:
    assert sorted(p.stem for p in (ARGOCD / "health").glob("*.lua")) == sorted(KINDS)
    scripts = {(p.parent.parent.name, p.parent.name) for p in (ARGOCD / "actions").glob("*/*/action.lua")}
    assert scripts == set(ACTIONS)


def test_docs_carry_a_pasteable_argocd_cm() -> None:
    doc = (ROOT / "docs" / "argocd.md").read_text()
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    configmap = yaml.safe_load(block)
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["name"] == "argocd-cm"
    data = configmap["data"]
    for kind in KINDS:
        assert (
            data[f"resource.customizations.health.mloop.io_{kind}"]
            == (ARGOCD / "health" / f"{kind}.lua").read_text()
        )
    actions = yaml.safe_load(data["resource.customizations.actions.mloop.io_ModelDeployment"])
    assert [d["name"] for d in actions["definitions"]] == ["abort", "promote", "rollback"]
    assert actions["discovery.lua"] == (ARGOCD / "actions" / "ModelDeployment" / "discovery.lua").read_text()
    assert argocd_customizations(ROOT) in doc


def test_example_application_is_an_argocd_application() -> None:
    app = yaml.safe_load((ROOT / "examples" / "argocd" / "application.yaml").read_text())
    assert app["kind"] == "Application"
    assert app["spec"]["source"]["path"] == "charts/mloop"
    assert "ServerSideApply=true" in app["spec"]["syncPolicy"]["syncOptions"]
