"""mloop's benchmarks: goals measured as ratios against a baseline taken in the same run (``make bench``).

One module per benchmark (``b7_operator.py`` for B7, ...), each registering itself with ``@benchmark``.
"""

from benchmarks.harness import REGISTRY, BenchResult, Registry, benchmark, main

__all__ = ["REGISTRY", "BenchResult", "Registry", "benchmark", "main"]
