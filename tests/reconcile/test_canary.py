"""Canary arithmetic and rollout decisions as tables (after Argo Rollouts' canary tests)."""

from datetime import UTC, datetime, timedelta

import pytest

from mloop.api.modeldeployment import Analysis, CanaryStep
from mloop.reconcile.canary import (
    AnalysisResult,
    RolloutState,
    TrackMetrics,
    analyse,
    distribution_shift,
    histogram_quantile,
    plan_rollout,
    replica_split,
)

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
STEPS = [CanaryStep(weight=10, pause="1m"), CanaryStep(weight=50, pause="1m")]
PASS = AnalysisResult(100, 0.0, 10.0, 0.01, True)
FAIL = AnalysisResult(100, 0.3, 10.0, 0.01, False, ("ErrorRate",))
UNSURE = AnalysisResult(3, 0.0, None, None, None, ("NotEnoughRequests",))


@pytest.mark.parametrize(
    ("total", "weight", "stable", "canary", "share"),
    [
        (10, 0, 10, 0, 0.0),
        (10, 10, 9, 1, 0.1),
        (10, 50, 5, 5, 0.5),
        (10, 100, 0, 10, 1.0),
        (1, 10, 1, 1, 0.5),
        (2, 10, 1, 1, 0.5),
        (4, 25, 3, 1, 0.25),
        (3, 90, 1, 3, 0.75),
        (0, 10, 1, 1, 0.5),
    ],
)
def test_replica_split(total: int, weight: int, stable: int, canary: int, share: float) -> None:
    split = replica_split(total, weight)
    assert (split.stable, split.canary) == (stable, canary)
    assert split.share == pytest.approx(share)


def buckets(*counts: float) -> list[tuple[float, float]]:
    bounds = [0.25, 0.5, 0.75, 1.0, float("inf")]
    running, out = 0.0, []
    padded = [*counts, *([0.0] * (len(bounds) - len(counts)))]
    for bound, count in zip(bounds, padded, strict=True):
        running += count
        out.append((bound, running))
    return out


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    assert histogram_quantile(0.5, buckets(10, 10, 0, 0)) == pytest.approx(0.25)
    assert histogram_quantile(0.95, buckets(0, 0, 0, 20)) == pytest.approx(0.75 + 0.25 * 0.95)
    assert histogram_quantile(0.5, []) is None


def test_distribution_shift_is_total_variation() -> None:
    assert distribution_shift(buckets(10, 10, 10, 10), buckets(1, 1, 1, 1)) == pytest.approx(0.0)
    assert distribution_shift(buckets(10, 0, 0, 0), buckets(0, 0, 0, 10)) == pytest.approx(1.0)
    assert distribution_shift(buckets(10, 10, 0, 0), buckets(0, 10, 10, 0)) == pytest.approx(0.5)
    assert distribution_shift(buckets(1, 1, 1, 1), [(0.5, 1.0), (float("inf"), 2.0)]) is None


@pytest.mark.parametrize(
    ("canary", "passed", "reasons"),
    [
        (TrackMetrics(10, 0, buckets(10), buckets(5, 5)), None, ("NotEnoughRequests",)),
        (TrackMetrics(100, 1, buckets(100), buckets(50, 50)), True, ()),
        (TrackMetrics(100, 20, buckets(100), buckets(50, 50)), False, ("ErrorRate",)),
        (TrackMetrics(100, 0, buckets(0, 0, 0, 100), buckets(50, 50)), False, ("Latency",)),
        (TrackMetrics(100, 0, buckets(100), buckets(0, 0, 50, 50)), False, ("PredictionShift",)),
    ],
)
def test_analysis(canary: TrackMetrics, passed: bool | None, reasons: tuple[str, ...]) -> None:
    spec = Analysis(min_requests=50, max_error_rate=0.05, max_latency_p95_ms=500, max_prediction_shift=0.3)
    stable = TrackMetrics(1000, 0, buckets(1000), buckets(500, 500))
    result = analyse(canary, stable, spec)
    assert (result.passed, result.reasons) == (passed, reasons)


def state(**kw):  # type: ignore[no-untyped-def]
    base = {"stable": "v1", "canary": "v2", "step": 0, "step_start": NOW - timedelta(seconds=90)}
    return RolloutState(**{**base, **kw})


@pytest.mark.parametrize(
    ("rollout", "target", "analysis", "manual", "approval", "action", "reason", "step"),
    [
        # no canary in flight
        (RolloutState(None, None), "v1", None, set(), "auto", "deploy", "FirstVersion", None),
        (RolloutState("v1", None), "v1", None, set(), "auto", "none", "", None),
        (RolloutState("v1", None), "v2", None, set(), "auto", "start", "NewVersion", 0),
        (RolloutState("v1", None, blocked="v2"), "v2", None, set(), "auto", "none", None, None),
        (
            RolloutState("v2", None, previous_stable="v1"),
            "v2",
            None,
            {"rollback"},
            "auto",
            "revert",
            "ManualRollback",
            None,
        ),
        (RolloutState("v2", None), "v2", None, {"rollback"}, "auto", "none", "", None),
        # a canary in flight
        (state(step_start=NOW - timedelta(seconds=20)), "v2", PASS, set(), "auto", "wait", "Analysing", 0),
        (state(), "v2", UNSURE, set(), "auto", "wait", "Analysing", 0),
        (state(), "v2", PASS, set(), "auto", "advance", "AnalysisPassed", 1),
        (state(step=1), "v2", PASS, set(), "auto", "promote", "AnalysisPassed", 1),
        (state(step=1), "v2", PASS, set(), "manual", "await-approval", "AwaitingApproval", 1),
        (
            state(step=1, awaiting_approval=True),
            "v2",
            PASS,
            {"promote"},
            "manual",
            "promote",
            "ManualPromotion",
            None,
        ),
        (state(), "v2", FAIL, set(), "auto", "wait", "ErrorRate", 0),
        (state(failures=2), "v2", FAIL, set(), "auto", "rollback", "ErrorRate", None),
        (state(), "v2", PASS, {"abort"}, "auto", "rollback", "ManualAbort", None),
        (state(), "v2", PASS, {"rollback"}, "auto", "rollback", "ManualRollback", None),
        (state(), "v2", PASS, {"abort", "rollback"}, "auto", "rollback", "ManualAbort", None),
        (state(), "v3", PASS, set(), "auto", "rollback", "Superseded", None),
    ],
)
def test_plan_rollout(rollout, target, analysis, manual, approval, action, reason, step) -> None:  # type: ignore[no-untyped-def]
    decision = plan_rollout(
        rollout,
        target=target,
        steps=STEPS,
        approval=approval,
        analysis=analysis,
        failure_limit=2,
        manual=frozenset(manual),
        now=NOW,
    )
    assert decision.action == action
    if reason is not None:
        assert decision.reason == reason
    if step is not None:
        assert decision.step == step
