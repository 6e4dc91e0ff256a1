"""The promotion gate, as a pure function: KPIs, baseline, champion on the same test data, slice gaps.

Every comparison is made in "higher is better" terms (``improvement``), so lower-is-better metrics such as
rmse or log_loss need no special cases further down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mloop.api.common import SliceMetrics
from mloop.api.mlproject import Kpi
from mloop.api.modelversion import BaselineComparison, ChampionComparison, Gate, KpiResult, SliceGap

__all__ = ["LOWER_IS_BETTER", "ChampionScore", "GatePolicy", "evaluate_gate", "improvement"]

LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mape"})
#: Reasons in the order they are reported when several checks fail.
REASONS = ("BelowKPI", "WorseThanBaseline", "WorseThanChampion", "SliceGap")


def improvement(metric: str, value: float, reference: float) -> float:
    """How much better ``value`` is than ``reference``: positive is better, whatever the direction."""
    return reference - value if metric in LOWER_IS_BETTER else value - reference


@dataclass(frozen=True)
class GatePolicy:
    """The project's rules for promotion (MLProject ``problem.kpis`` and ``promotion``)."""

    primary_metric: str
    kpis: Sequence[Kpi] = ()
    min_improvement: float = 0.0
    max_slice_gap: float = 0.1
    slice_min_rows: int = 30


@dataclass(frozen=True)
class ChampionScore:
    """The champion re-scored on the challenger's sealed test set (``value`` None if not comparable)."""

    name: str
    value: float | None


def evaluate_gate(
    policy: GatePolicy,
    *,
    test: Mapping[str, float],
    baseline: Mapping[str, float],
    slices: Sequence[SliceMetrics],
    champion: ChampionScore | None,
    now: datetime,
) -> Gate:
    """Judge a version: ``passed`` only if every check passes, else the first failure's reason."""
    metric = policy.primary_metric
    value = test.get(metric)
    kpis = [_kpi(kpi, test.get(kpi.metric)) for kpi in policy.kpis]

    base_value = baseline.get(metric)
    base_delta = None if value is None or base_value is None else improvement(metric, value, base_value)
    baseline_check = BaselineComparison(
        metric=metric, value=base_value, delta=base_delta, passed=base_delta is not None and base_delta > 0
    )

    if champion is None:
        champion_check = ChampionComparison(name=None, value=None, delta=None, passed=True)
    else:
        delta = (
            None if value is None or champion.value is None else improvement(metric, value, champion.value)
        )
        passed = delta is not None and delta > 0 and delta >= policy.min_improvement
        champion_check = ChampionComparison(
            name=champion.name, value=champion.value, delta=delta, passed=passed
        )

    judged = (
        _slice_gap(metric, value, s, policy.max_slice_gap) for s in slices if s.rows >= policy.slice_min_rows
    )
    gaps = [gap for gap in judged if gap is not None]

    failures = {
        "BelowKPI": not all(k.passed for k in kpis) or value is None,
        "WorseThanBaseline": not baseline_check.passed,
        "WorseThanChampion": not champion_check.passed,
        "SliceGap": not all(g.passed for g in gaps),
    }
    reason = next((r for r in REASONS if failures[r]), None)
    return Gate(
        kpis=kpis,
        baseline=baseline_check,
        champion=champion_check,
        slice_gaps=gaps,
        verdict="failed" if reason else "passed",
        reason=reason,
        evaluated_at=now,
    )


def _kpi(kpi: Kpi, value: float | None) -> KpiResult:
    if kpi.min is not None:
        return KpiResult(
            metric=kpi.metric,
            value=value,
            threshold=kpi.min,
            op=">=",
            passed=value is not None and value >= kpi.min,
        )
    threshold = kpi.max if kpi.max is not None else 0.0
    return KpiResult(
        metric=kpi.metric,
        value=value,
        threshold=threshold,
        op="<=",
        passed=value is not None and value <= threshold,
    )


def _slice_gap(metric: str, overall: float | None, slice_: SliceMetrics, limit: float) -> SliceGap | None:
    """A slice's drop below the overall metric; slices without the metric are not judged."""
    slice_value = slice_.metrics.get(metric)
    if overall is None or slice_value is None:
        return None
    gap = -improvement(metric, slice_value, overall)
    return SliceGap(
        column=slice_.column, value=slice_.value, metric_value=slice_value, gap=gap, passed=gap <= limit
    )
