"""The invalid-resource corpus is well-formed and the models reject every file where the server would.

The emulator's tests run the same files against the generated CRDs; here we check that the pydantic
models (which mirror the CEL rules) and the plain OpenAPI part of each schema agree with the headers.
"""

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft4Validator
from pydantic import ValidationError

from mloop.api.kinds import kind_info
from mloop.crdgen import openapi_schema

DATA = Path(__file__).parents[1] / "data"
INVALID = sorted((DATA / "invalid").glob("*.yaml"))
UPDATES = sorted((DATA / "invalid_updates").glob("*.after.yaml"))
EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
HEADER = re.compile(r"^# expect: (?P<expect>\S+)\n# why: (?P<why>.+)\n")


def load(path: Path) -> tuple[str, str, dict[str, Any]]:
    text = path.read_text()
    match = HEADER.match(text)
    assert match, f"{path.name}: missing '# expect:' / '# why:' header"
    return match["expect"], match["why"], yaml.safe_load(text)


@cache
def validator(kind: str) -> Draft4Validator:
    return Draft4Validator(openapi_schema(kind_info(kind)))


def k8s_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def pydantic_errors(body: dict[str, Any]) -> list[str]:
    try:
        kind_info(body["kind"]).model.model_validate(body)
    except ValidationError as exc:
        return [f"{k8s_path(err['loc'])}: {err['msg']}" for err in exc.errors()]
    return []


def schema_errors(body: dict[str, Any]) -> list[str]:
    """Errors named the way the API server names them (a missing field is reported at its own path)."""
    out = []
    for err in validator(body["kind"]).iter_errors(body):
        path = k8s_path(tuple(err.absolute_path))
        if err.validator == "required":
            missing = [name for name in err.validator_value if name not in err.instance]
            out += [f"{path}.{name}: Required value" for name in missing]
        else:
            out.append(f"{path}: {err.message}")
    return out


def test_corpus_size() -> None:
    kinds = [load(p)[2]["kind"] for p in INVALID]
    assert len(kinds) >= 36
    for kind in ("MLProject", "TrainingRun", "ModelVersion", "ModelDeployment", "DriftMonitor"):
        assert kinds.count(kind) >= 5, kind


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_models_reject_with_the_expected_path(path: Path) -> None:
    expect, _, body = load(path)
    assert body["metadata"]["name"] == path.stem
    errors = pydantic_errors(body)
    assert errors, f"{path.name} was accepted by the pydantic model"
    assert any(expect in e for e in errors), errors


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_schema_or_cel_rejects(path: Path) -> None:
    expect, why, body = load(path)
    errors = schema_errors(body)
    if why.startswith("CEL:"):
        assert errors == [], f"{path.name} is marked CEL-only but the schema rejects it: {errors}"
    else:
        assert any(expect in e for e in errors), errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_pass_the_schema(path: Path) -> None:
    assert schema_errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", UPDATES, ids=lambda p: p.name.split(".")[0])
def test_update_pairs_change_an_immutable_spec(path: Path) -> None:
    expect, _, after = load(path)
    before = yaml.safe_load(path.with_name(path.name.replace(".after.", ".before.")).read_text())
    assert pydantic_errors(before) == []
    assert pydantic_errors(after) == []
    assert before["kind"] == after["kind"]
    assert before["metadata"]["name"] == after["metadata"]["name"]
    assert expect == "spec"
    assert before["spec"] != after["spec"]
    rules = openapi_schema(kind_info(after["kind"]))["properties"]["spec"]["x-kubernetes-validations"]
    assert {
        "rule": "self == oldSelf",
        "message": "spec is immutable",
        "reason": "FieldValueForbidden",
    } in rules
