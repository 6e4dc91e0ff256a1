"""The ``mloop`` command: one argparse tree, one module per command group (each has ``register``)."""
