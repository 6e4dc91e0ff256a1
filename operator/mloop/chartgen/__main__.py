"""``python -m mloop.chartgen [--check] [crds] [manifests] [argocd]``: write or check generated files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mloop.chartgen.argocd import argocd_doc
from mloop.chartgen.files import Outputs, stale, write
from mloop.chartgen.render import chart_crds, deploy_manifests

GENERATORS = {"crds": chart_crds, "manifests": deploy_manifests, "argocd": argocd_doc}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mloop.chartgen", description=__doc__)
    parser.add_argument("what", nargs="*", help=f"any of {', '.join(GENERATORS)} (default: all)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: .)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.what) - set(GENERATORS))
    if unknown:
        parser.error(f"unknown generator(s) {', '.join(unknown)}; expected {', '.join(GENERATORS)}")
    outputs = Outputs()
    for name in args.what or list(GENERATORS):
        outputs = outputs.merge(GENERATORS[name](args.root))
    if args.check:
        problems = stale(outputs)
        for problem in problems:
            print(f"stale: {problem}", file=sys.stderr)
        if problems:
            print("Generated files are stale: run `make manifests`.", file=sys.stderr)
        return 1 if problems else 0
    for path in write(outputs):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
