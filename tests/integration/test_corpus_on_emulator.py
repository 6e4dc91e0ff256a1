"""Through the API emulator over HTTP, as kubectl would see it: every valid example is accepted and every
file of the invalid corpus is refused with a 422 whose message names the field path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.apiserver import ApiServerHandle
from tests.support.kube import Kube, KubeError

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
INVALID = sorted((DATA / "invalid").glob("*.yaml"))
UPDATES = sorted((DATA / "invalid_updates").glob("*.after.yaml"))
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\S+)", re.MULTILINE)


@pytest.fixture
def kube(apiserver: ApiServerHandle) -> Kube:
    kube = Kube(apiserver.url)
    kube.apply_files(sorted((ROOT / "crds").glob("*.yaml")))
    return kube


def load(path: Path) -> tuple[str, dict[str, Any]]:
    text = path.read_text()
    match = EXPECT.search(text)
    assert match, f"{path.name}: no '# expect:' header"
    return match[1], yaml.safe_load(text)


def test_corpus_is_large_enough() -> None:
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in INVALID}
    assert len(INVALID) >= 30
    assert len(kinds) == 5


def test_valid_examples_are_accepted(kube: Kube) -> None:
    for path in EXAMPLES:
        for doc in yaml.safe_load_all(path.read_text()):
            created = kube.create(doc)
            assert created["metadata"]["generation"] == 1, path.name


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_resource_is_rejected_naming_the_field(kube: Kube, path: Path) -> None:
    expected, body = load(path)
    with pytest.raises(KubeError) as caught:
        kube.create(body)
    assert caught.value.status == 422, caught.value.body
    status = yaml.safe_load(caught.value.body)
    assert status["kind"] == "Status"
    assert status["reason"] == "Invalid"
    assert expected in status["message"], f"{path.name}: {status['message']}"
    assert f'{body["kind"]}.mloop.io "{body["metadata"]["name"]}" is invalid' in status["message"]


@pytest.mark.parametrize("after", UPDATES, ids=[p.stem for p in UPDATES])
def test_immutable_spec_update_is_rejected(kube: Kube, after: Path) -> None:
    before = after.with_name(after.name.replace(".after.", ".before."))
    expected, new = load(after)
    old = yaml.safe_load(before.read_text())
    created = kube.create(old)
    new["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    path = kube.path(new["apiVersion"], new["kind"], "default", new["metadata"]["name"])
    with pytest.raises(KubeError) as caught:
        kube.request("PUT", path, new)
    assert caught.value.status == 422, caught.value.body
    assert expected in yaml.safe_load(caught.value.body)["message"]
    assert "immutable" in caught.value.body
