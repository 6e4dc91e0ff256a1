"""The benchmark harness: a registry of benchmarks by id, a table for people and a JSON file for history.

Speed and memory goals live here, not in tests: each benchmark measures its subject AND a baseline in the
same run and reports ratios, so results compare across machines. Benchmarks report; they never gate, so an
unmet goal still exits 0 and only a crash is a failure.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import pkgutil
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "DEFAULT_OUTPUT",
    "REGISTRY",
    "BenchResult",
    "Benchmark",
    "Registry",
    "benchmark",
    "machine_info",
    "main",
    "render_table",
    "run_benchmarks",
    "run_isolated",
    "write_results",
]

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"
_ID = re.compile(r"^B(\d+)$")
_MODULE = re.compile(r"^b\d+_\w+$")


@dataclass
class BenchResult:
    """What one benchmark measured: raw numbers with units, the ratios its goal is judged on, and the verdict.

    ``met`` is ``None`` when the benchmark did not judge (e.g. it could not measure a baseline).
    """

    id: str
    title: str
    measured: dict[str, tuple[float, str]] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    goal: str = ""
    met: bool | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The entry ``results.json`` keeps for this id."""
        return {
            "title": self.title,
            "ratios": {k: _round(v) for k, v in self.ratios.items()},
            "measured": {k: {"value": _round(v), "unit": unit} for k, (v, unit) in self.measured.items()},
            "goal": self.goal,
            "met": self.met,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, bench_id: str, entry: dict[str, Any]) -> BenchResult:
        """The inverse of ``to_json`` (values already rounded), for results read back from a child run."""
        return cls(
            id=bench_id,
            title=entry["title"],
            measured={k: (float(v["value"]), str(v["unit"])) for k, v in entry["measured"].items()},
            ratios={k: float(v) for k, v in entry["ratios"].items()},
            goal=entry["goal"],
            met=entry["met"],
            notes=list(entry["notes"]),
        )


BenchFn = Callable[[], BenchResult]


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark: its id (``B7``), a one-line title and the function that runs it."""

    id: str
    title: str
    run: BenchFn


class Registry:
    """Benchmarks by id. Tests build their own; the package-wide one is ``REGISTRY``."""

    def __init__(self) -> None:
        self._benchmarks: dict[str, Benchmark] = {}

    def add(self, bench_id: str, title: str, fn: BenchFn) -> None:
        if not _ID.match(bench_id):
            raise ValueError(f"benchmark ids look like B7, got {bench_id!r}")
        if bench_id in self._benchmarks and self._benchmarks[bench_id].run is not fn:
            raise ValueError(f"benchmark {bench_id} is registered twice")
        self._benchmarks[bench_id] = Benchmark(bench_id, title, fn)

    def get(self, bench_id: str) -> Benchmark:
        return self._benchmarks[bench_id]

    def ids(self) -> list[str]:
        """Registered ids in numeric order (B2 before B10)."""
        return sorted(self._benchmarks, key=lambda i: int(i[1:]))

    def __contains__(self, bench_id: object) -> bool:
        return bench_id in self._benchmarks


REGISTRY = Registry()


def benchmark(bench_id: str, title: str, registry: Registry | None = None) -> Callable[[BenchFn], BenchFn]:
    """Decorator registering a benchmark function: ``@benchmark("B7", "Operator writes and CPU")``."""

    def decorate(fn: BenchFn) -> BenchFn:
        (registry or REGISTRY).add(bench_id, title, fn)
        return fn

    return decorate


def discover(package: str = "benchmarks") -> None:
    """Import every ``bNN_*`` module of the package so its ``@benchmark`` registers (one module each)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if _MODULE.match(info.name):
            importlib.import_module(f"{package}.{info.name}")


# -- the machine ------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def machine_info() -> dict[str, Any]:
    """Where the numbers came from: ratios travel across machines, absolute values do not."""
    memory = _memory_bytes()
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_bytes": memory,
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


# -- running and reporting --------------------------------------------------------------------------


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def run_benchmarks(
    ids: Sequence[str], registry: Registry, *, out: TextIO = sys.stderr
) -> tuple[list[BenchResult], list[str]]:
    """Run each id in turn; a crash is recorded (and reported) without stopping the others."""
    results: list[BenchResult] = []
    crashed: list[str] = []
    for bench_id in ids:
        bench = registry.get(bench_id)
        print(f"[{bench_id}] {bench.title} ...", file=out, flush=True)
        started = time.monotonic()
        try:
            result = bench.run()
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others' numbers
            traceback.print_exc(file=out)
            crashed.append(bench_id)
            result = BenchResult(bench_id, bench.title, met=None, notes=[f"crashed: {exc!r}"])
        seconds = time.monotonic() - started
        result.measured.setdefault("wall_time", (seconds, "s"))
        print(f"[{bench_id}] done in {seconds:.1f} s", file=out, flush=True)
        results.append(result)
    return results, crashed


def run_isolated(
    ids: Sequence[str], registry: Registry, module: str = "benchmarks", *, out: TextIO = sys.stderr
) -> tuple[list[BenchResult], list[str]]:
    """Run each id in a fresh ``python -m <module> ID``: what one benchmark leaves behind in a process
    (ONNX Runtime sessions, OpenMP pools, a fragmented heap) measurably slowed the next one's subject but not
    its baseline (B5's native chi-square ran 1.5-2x slower after B1), so a ratio would judge the order the
    benchmarks ran in. The child's progress goes to ``out`` as it comes; its results come back as JSON."""
    results: list[BenchResult] = []
    crashed: list[str] = []
    for bench_id in ids:
        with tempfile.TemporaryDirectory(prefix="mloop-bench-") as tmp:
            path = Path(tmp) / "result.json"
            command = [sys.executable, "-m", module, bench_id, "--output", str(path)]
            with subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            ) as child:
                for line in child.stderr or ():
                    print(line, end="", file=out, flush=True)
            entry = json.loads(path.read_text()).get(bench_id) if path.exists() else None
        if entry is None:
            title = registry.get(bench_id).title
            note = f"crashed: its process exited with {child.returncode} and no result"
            print(f"[{bench_id}] {note}", file=out, flush=True)
            results.append(BenchResult(bench_id, title, met=None, notes=[note]))
            crashed.append(bench_id)
            continue
        results.append(BenchResult.from_json(bench_id, entry))
        if child.returncode != 0:
            crashed.append(bench_id)
    return results, crashed


def _verdict(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def render_table(results: Iterable[BenchResult]) -> str:
    """A plain-text table: id, title, ratios, goal, met (long cells wrap)."""
    headers = ("id", "title", "ratios", "goal", "met")
    widths = (4, 28, 40, 44, 3)
    rows: list[tuple[str, ...]] = [headers]
    for r in results:
        ratios = "; ".join(f"{k}={_round(v):g}" for k, v in r.ratios.items()) or "-"
        rows.append((r.id, r.title, ratios, r.goal or "-", _verdict(r.met)))
    lines: list[str] = []
    for index, row in enumerate(rows):
        cells = [textwrap.wrap(text, width) or [""] for text, width in zip(row, widths, strict=True)]
        for depth in range(max(len(c) for c in cells)):
            parts = [
                (c[depth] if depth < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)
            ]
            lines.append("  ".join(parts).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_results(results: Iterable[BenchResult], path: Path, machine: dict[str, Any]) -> dict[str, Any]:
    """Write ``{"machine": ..., "B7": {...}, ...}``; ids not run this time keep their previous entry."""
    data: dict[str, Any] = {}
    if path.exists():
        try:
            previous = json.loads(path.read_text())
            if isinstance(previous, dict):
                data = {k: v for k, v in previous.items() if _ID.match(k)}
        except (OSError, ValueError):
            data = {}
    for result in results:
        data[result.id] = {**result.to_json(), "date": machine["date"]}
    ordered = {"machine": machine, **{k: data[k] for k in sorted(data, key=lambda i: int(i[1:]))}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ordered, indent=2) + "\n")
    return ordered


def main(
    argv: Sequence[str] | None = None, registry: Registry | None = None, out: TextIO | None = None
) -> int:
    """``python -m benchmarks [IDS...] [--output FILE]``: 0 unless a benchmark crashed. Several of the
    package's own benchmarks run one process each (``run_isolated``); a passed registry runs in-process."""
    stdout = out or sys.stdout
    isolate = registry is None
    if registry is None:
        discover()
        registry = REGISTRY
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "ids", nargs="*", metavar="ID", help=f"benchmarks to run (default all: {registry.ids()})"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file (JSON)")
    args = parser.parse_args(argv)
    ids = [i.upper() for i in args.ids] or registry.ids()
    unknown = [i for i in ids if i not in registry]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; registered: {', '.join(registry.ids())}")
    progress = sys.stderr if out is None else out
    if isolate and len(ids) > 1:
        results, crashed = run_isolated(ids, registry, out=progress)
    else:
        results, crashed = run_benchmarks(ids, registry, out=progress)
    print(render_table(results), file=stdout)
    write_results(results, args.output, machine_info())
    print(f"\nresults written to {args.output}", file=stdout)
    for result in results:
        for note in result.notes:
            print(f"{result.id}: {note}", file=stdout)
    return 1 if crashed else 0
