"""``python -m mloop.operator``: the operator process."""
