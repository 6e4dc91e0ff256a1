"""``python -m benchmarks [IDS...] [--output benchmarks/results.json]``."""

import sys

from benchmarks.harness import main

if __name__ == "__main__":
    sys.exit(main())
