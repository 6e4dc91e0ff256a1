"""Entry point of the drift image: ``python -m mloop.drift --reference ... --traffic ... --output ...``."""

from __future__ import annotations

import sys

from mloop.drift.cli import main

if __name__ == "__main__":
    sys.exit(main())
