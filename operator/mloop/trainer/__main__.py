"""Entry point of the trainer image: ``python -m mloop.trainer --project ... --data ... --output ...``."""

from __future__ import annotations

import sys

from mloop.trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
