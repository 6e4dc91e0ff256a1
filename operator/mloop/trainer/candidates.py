"""Stage 5 (Trained): baseline, candidates and their hyperparameter search, all as sklearn Pipelines.

Preprocessing lives inside each Pipeline and is fitted on the rows the Pipeline is fitted on, never on
validation or test rows. Search trials fit on TRAIN and are scored on VALIDATION only; the winner is
chosen by the primary metric on validation and then refitted on train + validation (more data for the
final model; the validation scores stay honest because they were measured before the refit, and the test
set, untouched until evaluation, judges the refitted model).

Numeric features are imputed (median) and, for linear models, standardised; tree models skip the scaler:
trees are invariant to monotone rescaling, and the ONNX graph computes in float32, where a rescaled value a
hair from a split threshold could fall on the other side than in sklearn and break export parity.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mloop.api.training import Candidate
from mloop.trainer.metrics import LOWER_IS_BETTER, rank_key, task_metrics
from mloop.trainer.profile import MISSING_CATEGORY, FeatureSet, Target
from mloop.trainer.result import TrainerFailure

__all__ = ["Trained", "build_pipeline", "predict_output", "search_space", "train_all"]

_SCALED = {"logistic_regression", "linear_regression", "ridge"}


def _estimator(algorithm: str, task: str, seed: int) -> Any:
    """The sklearn estimator for an algorithm name (``Algorithm`` in the API), with a fixed seed."""
    clf = task != "regression"
    if algorithm == "logistic_regression":
        return LogisticRegression(max_iter=2000, random_state=seed)
    if algorithm == "linear_regression":
        return LinearRegression()
    if algorithm == "ridge":
        return Ridge(random_state=seed)
    if algorithm == "random_forest":
        cls = RandomForestClassifier if clf else RandomForestRegressor
        return cls(n_estimators=100, random_state=seed)
    if algorithm == "gradient_boosting":
        return (GradientBoostingClassifier if clf else GradientBoostingRegressor)(random_state=seed)
    if algorithm == "hist_gradient_boosting":
        return (HistGradientBoostingClassifier if clf else HistGradientBoostingRegressor)(random_state=seed)
    raise TrainerFailure("InvalidCandidate", f"unknown algorithm {algorithm!r}")


def _baseline(name: str, task: str, seed: int) -> Any:
    if task == "regression":
        return DummyRegressor(strategy="mean" if name == "auto" else name)
    strategy = "most_frequent" if name == "auto" else name
    return DummyClassifier(strategy=strategy, random_state=seed)


def build_pipeline(features: FeatureSet, estimator: Any, *, scale: bool) -> Pipeline:
    """One Pipeline: ColumnTransformer (numeric: median imputer [+ scaler]; categorical: constant imputer
    + one-hot ignoring unknown values) then the estimator. Dense output: HistGradientBoosting and the ONNX
    converter both want it, and one-hot widths here are small."""
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    parts: list[tuple[str, Any, list[str]]] = []
    if features.numeric:
        parts.append(("numeric", Pipeline(numeric_steps), features.numeric))
    if features.categoricals:
        categorical = Pipeline(
            [
                (
                    "impute",
                    SimpleImputer(
                        missing_values=MISSING_CATEGORY, strategy="constant", fill_value="__missing__"
                    ),
                ),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        parts.append(("categorical", categorical, features.categoricals))
    pre = ColumnTransformer(parts, sparse_threshold=0.0, remainder="drop")
    return Pipeline([("preprocess", pre), ("model", estimator)])


def predict_output(pipeline: Pipeline, x: pd.DataFrame, task: str) -> np.ndarray:
    """Probabilities (classes in sorted order) for classifiers, values for regressors."""
    if task == "regression":
        return np.asarray(pipeline.predict(x), dtype=np.float64).ravel()
    return np.asarray(pipeline.predict_proba(x), dtype=np.float64)


def search_space(candidate: Candidate, seed: int) -> list[dict[str, Any]]:
    """The trials' parameter sets: grid (every combination, a seeded subset if above ``maxTrials``) or
    random (lists sampled uniformly, ``{low, high, log}`` ranges sampled uniformly or log-uniformly)."""
    search = candidate.search
    if search is None or not search.space:
        return [{}]
    rng = np.random.default_rng(seed)
    keys = sorted(search.space)
    if search.type == "grid":
        grid = [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(search.space[k] for k in keys))
        ]
        if len(grid) > search.max_trials:
            pick = sorted(rng.choice(len(grid), search.max_trials, replace=False).tolist())
            grid = [grid[i] for i in pick]
        return grid
    trials: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(search.max_trials * 5):
        params = {k: _sample(search.space[k], rng, k) for k in keys}
        key = repr(sorted(params.items()))
        if key not in seen:
            seen.add(key)
            trials.append(params)
        if len(trials) == search.max_trials:
            break
    return trials


def _sample(space: Any, rng: np.random.Generator, name: str) -> Any:
    if isinstance(space, list):
        return space[int(rng.integers(len(space)))] if space else None
    if isinstance(space, dict) and "low" in space and "high" in space:
        low, high = space["low"], space["high"]
        if space.get("log"):
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            value = rng.uniform(low, high)
        return round(value) if isinstance(low, int) and isinstance(high, int) else float(value)
    raise TrainerFailure("InvalidCandidate", f"search.space.{name}: expected a list or {{low, high, log}}")


@dataclass
class Trained:
    """The outcome of the Trained stage."""

    trials: list[dict[str, Any]]
    best: dict[str, Any]
    validation: dict[str, float]
    model: Pipeline
    baseline: Pipeline
    baseline_validation: dict[str, float]


def train_all(
    candidates: list[Candidate],
    *,
    features: FeatureSet,
    task: str,
    baseline: str,
    primary: str,
    seed: int,
    train: tuple[pd.DataFrame, Target],
    validation: tuple[pd.DataFrame, np.ndarray],
) -> Trained:
    """Baseline first, then every trial of every candidate; pick the best on validation and refit it on
    train + validation. A trial that errors is logged with its error; if none succeeds the run fails."""
    (x_tr, target), (x_va, y_va) = train, validation
    classes, positive = target.classes, target.positive

    def score(pipe: Pipeline) -> dict[str, float]:
        return task_metrics(task, y_va, predict_output(pipe, x_va, task), classes, positive)

    base = build_pipeline(features, _baseline(baseline, task, seed), scale=False).fit(x_tr, target.y)
    base_val = score(base)
    trials: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    for cand in candidates:
        name = cand.effective_name
        space = search_space(cand, seed)
        for number, params in enumerate(space, start=1):
            merged = {**cand.params, **params}
            record: dict[str, Any] = {"candidate": name, "algorithm": cand.algorithm, "trial": number}
            record["params"] = merged
            begin = time.perf_counter()
            try:
                estimator = _estimator(cand.algorithm, task, seed).set_params(**merged)
                pipe = build_pipeline(features, estimator, scale=cand.algorithm in _SCALED)
                pipe.fit(x_tr, target.y)
                record["fitSeconds"] = round(time.perf_counter() - begin, 4)
                record["validation"] = score(pipe)
                record["status"] = "ok"
            except TrainerFailure:
                raise
            except Exception as exc:  # noqa: BLE001 - a bad parameter set is one failed trial, logged
                record.update(fitSeconds=round(time.perf_counter() - begin, 4), validation={})
                record.update(status="error", error=f"{type(exc).__name__}: {exc}"[:500])
            trials.append(record)
            if record["status"] == "ok" and (
                best is None
                or rank_key(record["validation"], primary) > rank_key(best["validation"], primary)
            ):
                best = record
        done = [t for t in trials if t["candidate"] == name and t["status"] == "ok"]
        top = max((rank_key(t["validation"], primary) for t in done), default=-math.inf)
        print(
            f"  candidate {name}: {len(done)}/{len(space)} trials ok, best validation {primary}="
            f"{-top if primary in LOWER_IS_BETTER else top:.4f}",
            flush=True,
        )
    if best is None:
        errors = "; ".join(sorted({t.get("error", "") for t in trials}))[:1000]
        raise TrainerFailure("TrainingFailed", f"no trial of any candidate trained successfully: {errors}")
    winner = next(c for c in candidates if c.effective_name == best["candidate"])
    x_all = pd.concat([x_tr, x_va])
    y_all = np.concatenate([target.y, y_va])
    estimator = _estimator(winner.algorithm, task, seed).set_params(**best["params"])
    final = build_pipeline(features, estimator, scale=winner.algorithm in _SCALED).fit(x_all, y_all)
    base = build_pipeline(features, _baseline(baseline, task, seed), scale=False).fit(x_all, y_all)
    best_out = {
        "candidate": best["candidate"],
        "algorithm": best["algorithm"],
        "params": best["params"],
        "trial": best["trial"],
        "refit": "train+validation",
    }
    return Trained(trials, best_out, best["validation"], final, base, base_val)
