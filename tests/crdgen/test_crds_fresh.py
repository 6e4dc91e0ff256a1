"""The committed CRDs are exactly what the generator writes from the models."""

import difflib
from pathlib import Path

from mloop.crdgen import render_all, stale_files

CRDS = Path(__file__).parents[2] / "crds"


def test_committed_crds_are_fresh() -> None:
    stale = stale_files(CRDS)
    diffs = []
    for name in stale:
        path = CRDS / name
        old = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        new = render_all().get(name, "").splitlines()
        diffs.append(
            "\n".join(list(difflib.unified_diff(old, new, f"crds/{name}", "fresh", lineterm=""))[:40])
        )
    assert not stale, "CRDs are stale; run `make crds`\n" + "\n".join(diffs)


def test_generation_is_deterministic() -> None:
    assert render_all() == render_all()
