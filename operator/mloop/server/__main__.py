"""``python -m mloop.server``."""

import sys

from mloop.server.cli import main

sys.exit(main())
