"""Generate the CRDs in ``crds/`` from the pydantic models in :mod:`mloop.api`."""

from __future__ import annotations

from pathlib import Path

from mloop.api.kinds import KINDS
from mloop.crdgen.crd import build_crd, crd_filename, openapi_schema, render_crd
from mloop.crdgen.schema import structural_schema
from mloop.crdgen.structural import structural_problems, unbounded_nodes, walk

__all__ = [
    "build_crd",
    "crd_filename",
    "openapi_schema",
    "render_all",
    "render_crd",
    "stale_files",
    "structural_problems",
    "structural_schema",
    "unbounded_nodes",
    "walk",
    "write_crds",
]


def render_all() -> dict[str, str]:
    """File name to YAML text for every kind."""
    return {crd_filename(info): render_crd(info) for info in KINDS}


def stale_files(outdir: Path) -> list[str]:
    """Names of files in ``outdir`` that differ from fresh output, are missing, or are obsolete."""
    fresh = render_all()
    stale = [
        name
        for name, text in fresh.items()
        if not (outdir / name).is_file() or (outdir / name).read_text(encoding="utf-8") != text
    ]
    stale += sorted(p.name for p in outdir.glob("mloop.io_*.yaml") if p.name not in fresh)
    return stale


def write_crds(outdir: Path) -> list[Path]:
    """Write every CRD into ``outdir`` and remove obsolete ``mloop.io_*.yaml`` files."""
    outdir.mkdir(parents=True, exist_ok=True)
    fresh = render_all()
    for old in outdir.glob("mloop.io_*.yaml"):
        if old.name not in fresh:
            old.unlink()
    written = []
    for name, text in fresh.items():
        path = outdir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
