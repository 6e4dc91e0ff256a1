"""The benchmark harness with fake benchmarks registered only here: fast, no servers (B7 itself is too slow
for the suite; ``make bench`` runs it).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from benchmarks.harness import BenchResult, Registry, benchmark, main, render_table, run_isolated


def fake_registry() -> Registry:
    registry = Registry()

    @benchmark("B99", "Fake benchmark", registry=registry)
    def fake() -> BenchResult:
        return BenchResult(
            id="B99",
            title="Fake benchmark",
            measured={"subject": (2.0, "s"), "baseline": (1.0, "s")},
            ratios={"subject_vs_baseline": 2.0},
            goal="subject <= 3x baseline",
            met=True,
        )

    @benchmark("B2", "Unjudged benchmark", registry=registry)
    def unjudged() -> BenchResult:
        return BenchResult(id="B2", title="Unjudged benchmark", ratios={"x": 0.5}, goal="none yet")

    return registry


def test_runs_all_in_numeric_order_prints_table_and_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    out = io.StringIO()

    code = main(["--output", str(output)], registry=fake_registry(), out=out)

    assert code == 0
    text = out.getvalue()
    header = next(line for line in text.splitlines() if line.startswith("id"))
    assert header.split() == ["id", "title", "ratios", "goal", "met"]
    assert "subject_vs_baseline=2" in text
    assert text.index("B2 ") < text.index("B99 ")  # numeric, not lexical, order
    data = json.loads(output.read_text())
    assert set(data) == {"machine", "B2", "B99"}
    machine = data["machine"]
    assert {"platform", "python", "cpu_count", "cpu_model", "memory_bytes", "date"} <= set(machine)
    assert machine["cpu_count"] >= 1
    entry = data["B99"]
    assert entry["ratios"] == {"subject_vs_baseline": 2.0}
    assert entry["measured"]["subject"] == {"value": 2.0, "unit": "s"}
    assert "wall_time" in entry["measured"]
    assert entry["goal"] == "subject <= 3x baseline"
    assert entry["met"] is True
    assert data["B2"]["met"] is None


def test_selected_ids_keep_other_entries_and_unmet_goal_exits_zero(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    registry = fake_registry()
    main(["--output", str(output)], registry=registry, out=io.StringIO())

    @benchmark("B5", "Misses its goal", registry=registry)
    def missing() -> BenchResult:
        return BenchResult(id="B5", title="Misses its goal", ratios={"r": 9.0}, goal="r <= 1", met=False)

    out = io.StringIO()
    assert main(["b5", "--output", str(output)], registry=registry, out=out) == 0
    assert "NO" in out.getvalue()
    data = json.loads(output.read_text())
    assert set(data) == {"machine", "B2", "B5", "B99"}
    assert data["B5"]["met"] is False


def test_a_crash_is_reported_and_exits_non_zero(tmp_path: Path) -> None:
    registry = Registry()

    @benchmark("B1", "Crashes", registry=registry)
    def crashes() -> BenchResult:
        raise RuntimeError("boom")

    output = tmp_path / "results.json"
    out = io.StringIO()
    assert main(["--output", str(output)], registry=registry, out=out) == 1
    assert "boom" in out.getvalue()
    assert json.loads(output.read_text())["B1"]["met"] is None


def test_unknown_id_and_bad_registration_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["B42", "--output", str(tmp_path / "r.json")], registry=fake_registry(), out=io.StringIO())
    assert exc.value.code == 2
    with pytest.raises(ValueError, match="look like B7"):
        Registry().add("bench7", "bad id", lambda: BenchResult("bench7", "bad id"))


def test_table_wraps_long_cells() -> None:
    result = BenchResult(id="B3", title="t", ratios={"a": 1.0}, goal="word " * 30, met=False)
    lines = render_table([result]).splitlines()
    assert len(lines) > 3
    assert all(len(line) <= 180 for line in lines)


CHILD_PACKAGE = """
import os
import sys

from benchmarks.harness import BenchResult, Registry, benchmark, main

registry = Registry()


def reports_its_process(bench_id: str) -> BenchResult:
    return BenchResult(bench_id, "Reports its process", measured={"x": (1.5, "s")}, ratios={"r": 0.5},
                       goal="g", met=True, notes=[f"pid {os.getpid()}"])


benchmark("B1", "Reports its process", registry=registry)(lambda: reports_its_process("B1"))
benchmark("B2", "Reports its process", registry=registry)(lambda: reports_its_process("B2"))


@benchmark("B3", "Dies", registry=registry)
def dies() -> BenchResult:
    os._exit(3)


sys.exit(main(registry=registry))
"""


def test_isolated_runs_give_each_benchmark_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make bench`` runs each benchmark in a fresh process; results and a dead child come back intact."""
    package = tmp_path / "fakebench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(CHILD_PACKAGE)
    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{root}")
    registry = Registry()
    for bench_id in ("B1", "B2", "B3"):
        registry.add(bench_id, "Parent's title", lambda: BenchResult("B0", "never run here"))
    progress = io.StringIO()

    results, crashed = run_isolated(["B1", "B2", "B3"], registry, "fakebench", out=progress)

    assert [r.id for r in results] == ["B1", "B2", "B3"]
    pids = {int(r.notes[0].split()[1]) for r in results[:2]}
    assert len(pids) == 2
    assert os.getpid() not in pids
    first = results[0]
    assert (first.title, first.ratios, first.goal) == ("Reports its process", {"r": 0.5}, "g")
    assert first.met is True
    assert first.measured["x"] == (1.5, "s")
    assert "wall_time" in first.measured
    assert crashed == ["B3"]
    assert results[2].met is None
    assert "exited with 3" in results[2].notes[0]
    assert "[B1] done in" in progress.getvalue()
    assert "[B3] crashed" in progress.getvalue()
