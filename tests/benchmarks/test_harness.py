"""The benchmark harness with fake benchmarks registered only here: fast, no servers (B7 itself is too slow
for the suite; ``make bench`` runs it).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from benchmarks.harness import BenchResult, Registry, benchmark, main, render_table


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
