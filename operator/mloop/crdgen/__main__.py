"""``python -m mloop.crdgen [--check] <outdir>``: write (or verify) the CRDs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mloop.crdgen import stale_files, write_crds


def main(argv: list[str] | None = None) -> int:
    """Write the CRDs, or with ``--check`` exit 1 if the files on disk are not fresh."""
    parser = argparse.ArgumentParser(prog="python -m mloop.crdgen", description=__doc__)
    parser.add_argument("outdir", type=Path, help="directory for mloop.io_<plural>.yaml (usually crds/)")
    parser.add_argument("--check", action="store_true", help="do not write; fail if files are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.outdir)
        if stale:
            print(f"stale CRDs in {args.outdir}: {', '.join(stale)}; run `make crds`", file=sys.stderr)
            return 1
        return 0
    for path in write_crds(args.outdir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
