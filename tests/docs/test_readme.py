"""The README is the front door: its resource reference must match the models, and its commands must exist."""

import re
from pathlib import Path

from mloop.api.kinds import KINDS
from mloop.crdgen.reference import update_readme

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_resource_reference_is_fresh() -> None:
    assert update_readme(README) == README, "README resource reference is stale: run `make docs`"


def test_every_kind_and_every_example_is_referenced() -> None:
    for info in KINDS:
        assert f"### {info.kind} (" in README
        assert (ROOT / "examples" / f"{info.kind.lower()}.yaml").exists()


def test_make_targets_named_in_the_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"(?:`|^)make ([a-z-]+)", README, flags=re.MULTILINE))
    assert "test" in named
    assert named <= targets, f"README names make targets that do not exist: {named - targets}"
