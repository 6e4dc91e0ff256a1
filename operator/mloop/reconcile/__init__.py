"""The pure core: desired-state builders and decisions. Plain data in, plain data out; no I/O, no clock."""
