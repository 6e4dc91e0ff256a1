"""The promotion gate as a table: each row is a situation a reviewer would recognise."""

from datetime import UTC, datetime

import pytest

from mloop.api.common import SliceMetrics
from mloop.api.mlproject import Kpi
from mloop.reconcile.gate import ChampionScore, GatePolicy, evaluate_gate, improvement

NOW = datetime(2026, 1, 1, tzinfo=UTC)
AUC = GatePolicy(primary_metric="roc_auc", kpis=(Kpi(metric="roc_auc", min=0.8),), min_improvement=0.01)
RMSE = GatePolicy(primary_metric="rmse", kpis=(Kpi(metric="rmse", max=10.0),), min_improvement=0.5)


def sl(value: str, metric: str, score: float, rows: int = 100) -> SliceMetrics:
    return SliceMetrics(column="region", value=value, rows=rows, metrics={metric: score})


@pytest.mark.parametrize(
    ("policy", "test", "baseline", "slices", "champion", "verdict", "reason"),
    [
        # first version, no champion: KPIs and baseline decide
        (AUC, {"roc_auc": 0.9}, {"roc_auc": 0.5}, [], None, "passed", None),
        (AUC, {"roc_auc": 0.75}, {"roc_auc": 0.5}, [], None, "failed", "BelowKPI"),
        (AUC, {"f1": 0.9}, {"roc_auc": 0.5}, [], None, "failed", "BelowKPI"),
        (AUC, {"roc_auc": 0.85}, {"roc_auc": 0.86}, [], None, "failed", "WorseThanBaseline"),
        (AUC, {"roc_auc": 0.85}, {"roc_auc": 0.85}, [], None, "failed", "WorseThanBaseline"),
        # against a champion re-scored on the same test set
        (AUC, {"roc_auc": 0.90}, {"roc_auc": 0.5}, [], ChampionScore("c-1", 0.88), "passed", None),
        (
            AUC,
            {"roc_auc": 0.885},
            {"roc_auc": 0.5},
            [],
            ChampionScore("c-1", 0.88),
            "failed",
            "WorseThanChampion",
        ),
        (
            AUC,
            {"roc_auc": 0.87},
            {"roc_auc": 0.5},
            [],
            ChampionScore("c-1", 0.88),
            "failed",
            "WorseThanChampion",
        ),
        (
            AUC,
            {"roc_auc": 0.9},
            {"roc_auc": 0.5},
            [],
            ChampionScore("c-1", None),
            "failed",
            "WorseThanChampion",
        ),
        # lower is better: rmse
        (RMSE, {"rmse": 5.0}, {"rmse": 9.0}, [], ChampionScore("c-1", 6.0), "passed", None),
        (RMSE, {"rmse": 5.8}, {"rmse": 9.0}, [], ChampionScore("c-1", 6.0), "failed", "WorseThanChampion"),
        (RMSE, {"rmse": 11.0}, {"rmse": 12.0}, [], None, "failed", "BelowKPI"),
        (RMSE, {"rmse": 9.5}, {"rmse": 9.0}, [], None, "failed", "WorseThanBaseline"),
        # slices: a gap beyond maxSliceGap fails; small slices are not gated
        (AUC, {"roc_auc": 0.9}, {"roc_auc": 0.5}, [sl("north", "roc_auc", 0.85)], None, "passed", None),
        (AUC, {"roc_auc": 0.9}, {"roc_auc": 0.5}, [sl("south", "roc_auc", 0.7)], None, "failed", "SliceGap"),
        (AUC, {"roc_auc": 0.9}, {"roc_auc": 0.5}, [sl("tiny", "roc_auc", 0.5, rows=5)], None, "passed", None),
        (RMSE, {"rmse": 5.0}, {"rmse": 9.0}, [sl("east", "rmse", 5.05)], None, "passed", None),
        (RMSE, {"rmse": 5.0}, {"rmse": 9.0}, [sl("west", "rmse", 5.2)], None, "failed", "SliceGap"),
        # several failures: the first in the documented order is the reason
        (AUC, {"roc_auc": 0.6}, {"roc_auc": 0.7}, [sl("s", "roc_auc", 0.1)], None, "failed", "BelowKPI"),
    ],
)
def test_gate(policy, test, baseline, slices, champion, verdict, reason) -> None:  # type: ignore[no-untyped-def]
    gate = evaluate_gate(policy, test=test, baseline=baseline, slices=slices, champion=champion, now=NOW)
    assert (gate.verdict, gate.reason) == (verdict, reason)


def test_gate_records_every_check_with_values() -> None:
    gate = evaluate_gate(
        RMSE,
        test={"rmse": 5.0},
        baseline={"rmse": 9.0},
        slices=[sl("west", "rmse", 5.2)],
        champion=ChampionScore("house-1", 6.0),
        now=NOW,
    )
    assert [(k.metric, k.value, k.threshold, k.op, k.passed) for k in gate.kpis] == [
        ("rmse", 5.0, 10.0, "<=", True)
    ]
    assert gate.baseline is not None
    assert (gate.baseline.value, gate.baseline.delta) == (9.0, 4.0)
    assert gate.champion is not None
    assert (gate.champion.name, gate.champion.delta, gate.champion.passed) == ("house-1", 1.0, True)
    assert gate.slice_gaps[0].gap == pytest.approx(0.2)
    assert gate.evaluated_at == NOW


@pytest.mark.parametrize(
    ("metric", "value", "reference", "expected"),
    [
        ("roc_auc", 0.9, 0.8, 0.1),
        ("rmse", 4.0, 5.0, 1.0),
        ("log_loss", 0.5, 0.4, -0.1),
        ("r2", 0.5, 0.6, -0.1),
    ],
)
def test_improvement_direction(metric: str, value: float, reference: float, expected: float) -> None:
    assert improvement(metric, value, reference) == pytest.approx(expected)
