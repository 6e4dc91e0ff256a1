"""Seeded generated streams for the drift checker tests: a reference sample and logged traffic in the
server's layout (``<prefix>/<YYYY-MM-DD>/<HH>/part-*.jsonl``), plus feedback lines."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

N_NUMERIC = 15
N_CATEGORICAL = 5
NUMERIC = [f"num_{i:02d}" for i in range(N_NUMERIC)]
CATEGORICAL = [f"cat_{i}" for i in range(N_CATEGORICAL)]
CATEGORIES = ["alpha", "beta", "gamma", "delta"]
CAT_P = [0.4, 0.3, 0.2, 0.1]
MEANS = np.linspace(-2.0, 3.0, N_NUMERIC)
STDS = np.linspace(0.5, 4.0, N_NUMERIC)
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def features_frame(
    rng: np.random.Generator,
    n: int,
    shift: dict[str, float] | None = None,
    new_category: tuple[str, str, float] | None = None,
) -> pd.DataFrame:
    """``n`` rows: numeric ~ N(mean, std) (+ shift in units of std), 1% missing; categorical ~ CAT_P."""
    shift = shift or {}
    data: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        values = rng.normal(MEANS[i] + shift.get(name, 0.0) * STDS[i], STDS[i], n).astype(np.float32)
        values[rng.random(n) < 0.01] = np.nan
        data[name] = values
    for name in CATEGORICAL:
        values = rng.choice(CATEGORIES, n, p=CAT_P).astype(object)
        if new_category and new_category[0] == name:
            values[rng.random(n) < new_category[2]] = new_category[1]
        data[name] = values
    return pd.DataFrame(data)


def reference_parquet(rng: np.random.Generator, n: int = 5000) -> bytes:
    buf = io.BytesIO()
    features_frame(rng, n).to_parquet(buf, index=False)
    return buf.getvalue()


def probability(frame: pd.DataFrame, shift: float = 0.0) -> np.ndarray:
    z = 0.8 * np.nan_to_num((frame["num_00"].to_numpy() - MEANS[0]) / STDS[0]) + shift
    return 1.0 / (1.0 + np.exp(-z))


def records(
    rng: np.random.Generator,
    n: int,
    start: datetime,
    duration: timedelta = timedelta(hours=1),
    *,
    shift: dict[str, float] | None = None,
    new_category: tuple[str, str, float] | None = None,
    prediction_shift: float = 0.0,
    id_prefix: str = "r",
) -> list[dict[str, Any]]:
    """Logged requests spread evenly over [start, start + duration), binary classifier outputs."""
    frame = features_frame(rng, n, shift, new_category)
    p = probability(frame, prediction_shift)
    step = duration / n
    out = []
    for i, row in enumerate(frame.to_dict("records")):
        feats = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        feats = {k: (float(v) if isinstance(v, np.floating) else v) for k, v in feats.items()}
        out.append(
            {
                "ts": (start + i * step).isoformat().replace("+00:00", "Z"),
                "requestId": f"{id_prefix}-{start:%Y%m%d%H%M}-{i}",
                "model": "credit",
                "version": "credit-1",
                "role": "stable",
                "features": feats,
                "prediction": "1" if p[i] >= 0.5 else "0",
                "probabilities": {"0": float(1 - p[i]), "1": float(p[i])},
            }
        )
    return out


def partitioned(lines: Iterable[dict[str, Any]]) -> dict[str, bytes]:
    """``YYYY-MM-DD/HH/part-00000.jsonl`` -> bytes, by each line's ``ts`` hour."""
    parts: dict[str, list[str]] = {}
    for line in lines:
        ts = datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
        parts.setdefault(f"{ts:%Y-%m-%d/%H}/part-00000.jsonl", []).append(json.dumps(line))
    return {k: ("\n".join(v) + "\n").encode() for k, v in parts.items()}


def write_dir(root: Path, lines: Iterable[dict[str, Any]]) -> None:
    for key, data in partitioned(lines).items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as fh:
            fh.write(data)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
