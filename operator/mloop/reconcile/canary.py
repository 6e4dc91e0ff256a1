"""Canary arithmetic and decisions, pure and table-tested (the shape of Argo Rollouts' canary utilities).

Replica split for a weight, the analysis of one interval from two tracks' metrics (error rate, latency p95,
and the ML signal: how far the canary's prediction distribution moved from the stable one), and the next
rollout action.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from mloop.api.common import parse_duration
from mloop.api.modeldeployment import Analysis, CanaryStep

__all__ = [
    "AnalysisResult",
    "Decision",
    "RolloutState",
    "Split",
    "TrackMetrics",
    "analyse",
    "distribution_shift",
    "histogram_quantile",
    "plan_rollout",
    "replica_split",
]

Buckets = Sequence[tuple[float, float]]  # (upper bound, cumulative count), Prometheus style, +Inf last


@dataclass(frozen=True)
class Split:
    """Replicas per track and the traffic share the canary really gets behind one Service."""

    stable: int
    canary: int

    @property
    def share(self) -> float:
        total = self.stable + self.canary
        return 0.0 if total == 0 else self.canary / total


def replica_split(total: int, weight: int) -> Split:
    """Canary replicas follow the weight of the total (at least one while the weight is above zero);
    the stable track keeps at least one replica until the weight reaches 100."""
    total = max(total, 1)
    if weight <= 0:
        return Split(total, 0)
    if weight >= 100:
        return Split(0, total)
    canary = max(1, math.ceil(total * weight / 100))
    stable = max(1, total - canary)
    return Split(stable, canary)


@dataclass(frozen=True)
class TrackMetrics:
    """One track's counters, summed over its pods: requests, errors, latency and prediction histograms."""

    requests: float = 0.0
    errors: float = 0.0
    latency: Buckets = ()
    predictions: Buckets = ()


@dataclass(frozen=True)
class AnalysisResult:
    """``passed`` is None while the canary has too few requests to judge."""

    requests: int
    error_rate: float | None
    latency_p95_ms: float | None
    prediction_shift: float | None
    passed: bool | None
    reasons: tuple[str, ...] = ()


def histogram_quantile(q: float, buckets: Buckets) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding the quantile."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            width = count - lower_count
            fraction = 0.0 if width <= 0 else (rank - lower_count) / width
            return lower_bound + (bound - lower_bound) * fraction
        lower_bound, lower_count = bound, count
    return lower_bound


def distribution_shift(a: Buckets, b: Buckets) -> float | None:
    """Total variation distance between two histograms with the same buckets (0 = same, 1 = disjoint)."""
    if not a or not b or a[-1][1] <= 0 or b[-1][1] <= 0:
        return None
    if [bound for bound, _ in a] != [bound for bound, _ in b]:
        return None
    mass_a = _masses(a)
    mass_b = _masses(b)
    return 0.5 * sum(abs(x - y) for x, y in zip(mass_a, mass_b, strict=True))


def _masses(buckets: Buckets) -> list[float]:
    total = buckets[-1][1]
    previous = 0.0
    out = []
    for _, count in buckets:
        out.append((count - previous) / total)
        previous = count
    return out


def analyse(canary: TrackMetrics, stable: TrackMetrics, spec: Analysis) -> AnalysisResult:
    """Judge the canary against the thresholds; the prediction shift compares it with the stable track."""
    requests = int(canary.requests)
    error_rate = None if canary.requests <= 0 else canary.errors / canary.requests
    p95 = histogram_quantile(0.95, canary.latency)
    p95_ms = None if p95 is None else p95 * 1000.0
    shift = distribution_shift(canary.predictions, stable.predictions)
    if requests < spec.min_requests:
        return AnalysisResult(requests, error_rate, p95_ms, shift, None, ("NotEnoughRequests",))
    reasons = []
    if error_rate is not None and error_rate > spec.max_error_rate:
        reasons.append("ErrorRate")
    if spec.max_latency_p95_ms is not None and p95_ms is not None and p95_ms > spec.max_latency_p95_ms:
        reasons.append("Latency")
    if spec.max_prediction_shift is not None and shift is not None and shift > spec.max_prediction_shift:
        reasons.append("PredictionShift")
    return AnalysisResult(requests, error_rate, p95_ms, shift, not reasons, tuple(reasons))


@dataclass(frozen=True)
class RolloutState:
    """Where a rollout stands, as recorded in the ModelDeployment's status."""

    stable: str | None
    canary: str | None
    step: int | None = None
    step_start: datetime | None = None
    failures: int = 0
    awaiting_approval: bool = False
    previous_stable: str | None = None
    blocked: str | None = None


Action = Literal[
    "none", "deploy", "start", "wait", "advance", "promote", "await-approval", "rollback", "revert"
]


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""
    step: int | None = None
    manual: frozenset[str] = field(default_factory=frozenset)


def plan_rollout(
    state: RolloutState,
    *,
    target: str | None,
    steps: Sequence[CanaryStep],
    approval: Literal["auto", "manual"],
    analysis: AnalysisResult | None,
    failure_limit: int,
    manual: frozenset[str],
    now: datetime,
) -> Decision:
    """The next action; manual requests (``promote``, ``abort``, ``rollback``) win over the schedule."""
    if state.canary is None:
        if "rollback" in manual and state.previous_stable:
            return Decision("revert", "ManualRollback", manual=frozenset({"rollback"}))
        if target is None or target == state.stable:
            return Decision("none", manual=manual & {"rollback"})
        if state.stable is None:
            return Decision("deploy", "FirstVersion")
        if target == state.blocked:
            return Decision("none", f"{target} was rolled back; waiting for another version")
        return Decision("start", "NewVersion", step=0)

    if "abort" in manual:
        return Decision("rollback", "ManualAbort", manual=frozenset({"abort"}))
    if "rollback" in manual:  # mid-canary the stable still serves: rolling back is ending the canary
        return Decision("rollback", "ManualRollback", manual=frozenset({"rollback"}))
    if "promote" in manual:
        return Decision("promote", "ManualPromotion", manual=frozenset({"promote"}))
    if target is not None and target not in (state.canary, state.stable):
        return Decision("rollback", "Superseded")  # a newer target replaces this canary from scratch
    if analysis is not None and analysis.passed is False and state.failures + 1 > failure_limit:
        return Decision("rollback", "+".join(analysis.reasons) or "AnalysisFailed")
    if state.awaiting_approval:
        return Decision("await-approval", "AwaitingApproval")
    step = state.step or 0
    pause = parse_duration(steps[step].pause) if step < len(steps) else timedelta(0)
    elapsed = now - state.step_start if state.step_start else timedelta(0)
    if analysis is not None and analysis.passed is False:
        return Decision("wait", "+".join(analysis.reasons) or "AnalysisFailed", step=step)
    if elapsed < pause or (analysis is not None and analysis.passed is None):
        return Decision("wait", "Analysing", step=step)
    if step + 1 < len(steps):
        return Decision("advance", "AnalysisPassed", step=step + 1)
    if approval == "manual":
        return Decision("await-approval", "AwaitingApproval", step=step)
    return Decision("promote", "AnalysisPassed", step=step)
