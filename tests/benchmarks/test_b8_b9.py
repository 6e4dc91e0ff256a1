"""B8 and B9 without servers: they register, and their judging turns round timings into a well-formed
result. The measurements themselves start a whole control plane and take about a minute each
(``make bench`` runs them)."""

from __future__ import annotations

import json
import pkgutil

import pytest
from benchmarks.b8_deploy import ApplyTimes, b8_result
from benchmarks.b9_rollback import Rollback, b9_result, last_canary_answer
from benchmarks.harness import _MODULE, REGISTRY, render_table

import benchmarks


def test_both_are_registered_and_discoverable() -> None:
    assert {"B8", "B9"} <= set(REGISTRY.ids())  # importing the modules registered them
    assert REGISTRY.get("B8").title == "Apply to first prediction"
    modules = {info.name for info in pkgutil.iter_modules(benchmarks.__path__)}
    assert {"b8_deploy", "b9_rollback"} <= {m for m in modules if _MODULE.match(m)}  # what discover() imports


def test_b8_judges_the_medians_against_floor_plus_one_probe_period() -> None:
    applies = [ApplyTimes(0.05, 2.1, 0.06, t) for t in (2.1, 2.2, 9.0)]  # one slow round: the median holds
    result = b8_result(applies, floors=[0.6, 0.7, 0.65], python_spawn=0.02, probe_period=2.0)
    assert result.id == "B8"
    assert result.met is True
    assert result.ratios["apply_to_prediction_vs_server_spawn"] == pytest.approx(2.2 / 0.65)
    assert result.measured["apply_to_first_prediction_median"] == (2.2, "s")
    assert result.measured["apply_to_first_prediction_max"] == (9.0, "s")
    assert result.measured["overhead_over_floor_median"][0] == pytest.approx(2.2 - 0.65)
    assert "9.00" in result.notes[0]
    json.dumps(result.to_json())
    assert "B8" in render_table([result])

    slow = b8_result([ApplyTimes(0.05, 3.4, 0.06, 3.5)] * 3, [0.6] * 3, 0.02, 2.0)
    assert slow.met is False  # 2.9 s over the floor: more than a probe period and the hops


def test_b9_judges_the_worst_round_against_the_period() -> None:
    fast = Rollback(
        status=0.1, deployment_gone=0.06, endpoints_clear=0.06, last_canary_answer=0.03, answers=80, failed=0
    )
    late_answer = Rollback(0.1, 0.06, 0.06, 0.4, 80, 1)  # the client saw the canary after the Endpoints
    result = b9_result([fast, late_answer, fast], resync_seconds=10.0)
    assert result.id == "B9"
    assert result.met is True
    assert result.ratios["rollback_vs_reconcile_period"] == pytest.approx(0.04)
    assert result.measured["no_traffic_after_decision_max"] == (0.4, "s")
    assert result.measured["no_traffic_after_decision_median"] == (0.06, "s")
    assert result.measured["requests_failed_during_rollbacks"] == (1.0, "requests")
    json.dumps(result.to_json())

    slow = Rollback(12.0, 12.0, 12.0, 11.9, 80, 0)
    assert b9_result([fast, slow], resync_seconds=10.0).met is False  # one round over the period is enough


def test_last_canary_answer_counts_only_the_canary_after_the_decision() -> None:
    answers = [(9.0, "v2"), (10.1, "v1"), (10.2, "v2"), (10.3, None), (10.5, "v1")]
    assert last_canary_answer(answers, "v2", t0=10.0) == pytest.approx(0.2)
    assert last_canary_answer(answers, "v3", t0=10.0) == 0.0
    assert last_canary_answer(answers, "v2", t0=11.0) == 0.0
