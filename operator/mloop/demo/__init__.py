"""The narrated end-to-end demo behind ``make demo``."""
