"""The drift checker (``python -m mloop.drift``): compares a window of logged requests with a model's
reference sample and writes a report, a plot and a termination message (SPEC §1 DriftMonitor, §2).

Nothing here imports alibi-detect unless the ``alibi-detect`` backend is asked for: the default install
carries no BSL-licensed code.
"""

__all__: list[str] = []
