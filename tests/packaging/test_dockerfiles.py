"""Static checks of images/<component>/Dockerfile (no Docker engine runs in CI): pinned bases, the locked
extra of the right component, a numeric non-root user and the entrypoint ``mloop.images`` promises."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mloop.images import COMPONENTS, ENTRYPOINTS
from mloop.reconcile.pods import RUN_AS_USER

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def resolve(reference: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), reference)


@pytest.fixture(params=COMPONENTS)
def component(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_component_has_a_dockerfile_and_nothing_else_does() -> None:
    assert sorted(p.name for p in IMAGES.iterdir() if p.is_dir()) == sorted(COMPONENTS)


def test_bases_are_pinned_never_latest(component: str) -> None:
    steps = instructions(IMAGES / component / "Dockerfile")
    args = {}
    stages: set[str] = set()
    for keyword, rest in steps:
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
        if keyword == "FROM":
            reference, *alias = rest.split()
            image = resolve(reference, args)
            if image in stages:
                continue
            assert "$" not in image, f"{component}: unresolved base {reference}"
            assert "@sha256:" in image or re.search(r":[\w.\-]+$", image), f"{component}: {image} has no tag"
            assert not image.endswith(":latest"), f"{component}: {image} uses latest"
            if alias:
                stages.add(alias[-1])
    final = resolve([rest for k, rest in steps if k == "FROM"][-1], args)
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[a-f0-9]{64})?", final), final


def test_final_stage_runs_as_numeric_non_root_in_a_writable_home(component: str) -> None:
    steps = instructions(IMAGES / component / "Dockerfile")
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    final = steps[last_from:]
    users = [rest for k, rest in final if k == "USER"]
    assert users == [f"{RUN_AS_USER}:{RUN_AS_USER}"], users
    env = " ".join(rest for k, rest in final if k == "ENV")
    assert "HOME=/tmp" in env
    assert [rest for k, rest in final if k == "WORKDIR"] == ["/tmp"]
    assert not [rest for k, rest in final if k == "RUN"], "the final stage copies the venv; nothing runs"
    labels = " ".join(rest for k, rest in final if k == "LABEL")
    for key in ("title", "source", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_entrypoint_is_the_one_mloop_images_names(component: str) -> None:
    steps = instructions(IMAGES / component / "Dockerfile")
    entrypoints = [rest for k, rest in steps if k == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    assert tuple(json.loads(entrypoints[0])) == ENTRYPOINTS[component]
    assert not [rest for k, rest in steps if k == "CMD"]


def test_dependencies_come_from_the_lock_with_the_right_extra(component: str) -> None:
    runs = " && ".join(rest for k, rest in instructions(IMAGES / component / "Dockerfile") if k == "RUN")
    commands = [c.strip() for c in re.split(r"&&|;", runs)]
    exports = [c for c in commands if c.startswith("uv export")]
    assert len(exports) == 1
    assert f"--extra {component} " in exports[0] + " "
    assert re.findall(r"--extra (\S+)", exports[0]) == [component]
    for flag in ("--frozen", "--no-dev", "--no-emit-project"):
        assert flag in exports[0]
    installs = [c for c in commands if re.search(r"\bpip3? install\b", c)]
    assert installs
    for install in installs:
        assert install.startswith("uv pip install"), f"{component}: {install}: only uv, from the lock"
        assert "--no-deps" in install, f"{component}: {install} would resolve outside the lock"
        from_lock = "-r requirements.txt" in install and "--require-hashes" in install
        own_wheel = install.endswith("/dist/mloop-*.whl")
        assert from_lock or own_wheel, f"{component}: {install} installs something not in uv.lock"
    assert not re.search(r"apt-get|apk add|gcc|build-essential", runs), "no compilers or system packages"


def test_build_context_is_limited(component: str) -> None:
    ignore = (IMAGES / component / "Dockerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:1] == ["*"], "deny everything first"
    assert {"!pyproject.toml", "!uv.lock", "!operator/"} <= set(ignore)
    assert ignore == (IMAGES / "operator" / "Dockerfile.dockerignore").read_text().split()
