"""B1: the server's model kernel (``OnnxModel.predict`` on prepared columns) vs bare ONNX Runtime ``run`` vs
scikit-learn ``predict_proba`` on the same rows of the credit model (logistic regression with imputation,
scaling and one-hot, as the trainer builds it).

The kernel should cost what ORT costs (ratio ≈ 1: the wrapper only reshapes outputs) and beat sklearn,
whose ``predict_proba`` goes through pandas and the ColumnTransformer on every call. Also the shared model
fixture for B2 to B4: ``credit_model()`` fits, exports and caches the model once per process.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
from numpy.typing import NDArray

from benchmarks.harness import BenchResult, benchmark
from mloop.local.datasets import credit_frame
from mloop.server.model import OnnxModel, session_options
from mloop.trainer.candidates import build_pipeline
from mloop.trainer.export import export_onnx
from mloop.trainer.profile import FeatureSet, to_model_frame

__all__ = ["CreditModel", "credit_model", "run_b1"]

SEED = 7
FEATURES = FeatureSet(
    ("age", "income", "credit_amount", "duration_months", "purpose", "housing", "age_band"),
    frozenset({"purpose", "housing", "age_band"}),
)
GOAL = "kernel ≤ 1.1x bare ORT time; kernel faster than sklearn predict_proba"


@dataclass(frozen=True)
class CreditModel:
    """The benchmark model: ONNX file and digest, the fitted sklearn Pipeline, its rows (frame and JSON)."""

    path: Path
    sha256: str
    pipeline: Any
    frame: pd.DataFrame
    rows: list[dict[str, Any]]


@functools.cache
def credit_model() -> CreditModel:
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - only benchmarks fit models

    raw = credit_frame(1500, seed=SEED)
    frame = to_model_frame(raw, FEATURES)
    pipeline = build_pipeline(FEATURES, LogisticRegression(max_iter=2000, random_state=SEED), scale=True)
    pipeline.fit(frame, raw["default"].to_numpy())
    data = export_onnx(pipeline, FEATURES, "binary-classification", [0, 1], {})
    directory = Path(tempfile.mkdtemp(prefix="mloop-bench-"))
    atexit.register(shutil.rmtree, directory, True)
    path = directory / "model.onnx"
    path.write_bytes(data)
    rows = [
        {k: (v if isinstance(v, str) else float(v)) for k, v in record.items()}
        for record in frame.to_dict("records")
    ]
    return CreditModel(path, hashlib.sha256(data).hexdigest(), pipeline, frame, rows)


def _feeds(model: CreditModel, n: int) -> dict[str, NDArray[Any]]:
    part = model.frame.head(n)
    feeds: dict[str, NDArray[Any]] = {}
    for col in FEATURES.columns:
        if col in FEATURES.categorical:
            feeds[col] = part[col].to_numpy(dtype=object).reshape(-1, 1)
        else:
            feeds[col] = part[col].to_numpy(dtype=np.float32).reshape(-1, 1)
    return feeds


def _per_call(fn: Callable[[], object], budget: float) -> float:
    """Seconds per call: calls repeated in blocks for ``budget`` seconds, the median block."""
    fn()
    blocks: list[float] = []
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline or len(blocks) < 5:
        started = time.perf_counter()
        for _ in range(50):
            fn()
        blocks.append((time.perf_counter() - started) / 50)
    return statistics.median(blocks)


@benchmark("B1", "Model kernel vs bare ORT vs sklearn")
def run_b1() -> BenchResult:
    model = credit_model()
    kernel = OnnxModel(model.path.read_bytes())
    kernel.warm_up()
    bare = ort.InferenceSession(
        str(model.path), sess_options=session_options(), providers=["CPUExecutionProvider"]
    )
    result = BenchResult("B1", "Model kernel vs bare ORT vs sklearn", goal=GOAL)
    met = True
    for n in (1, 64):
        feeds = _feeds(model, n)
        part = model.frame.head(n)
        times = {"kernel": 0.0, "ort": 0.0, "sklearn": 0.0}
        for _ in range(3):  # interleaved rounds: drift in machine load hits all three alike
            times["kernel"] += _per_call(functools.partial(kernel.predict, feeds), 0.6)
            times["ort"] += _per_call(functools.partial(bare.run, None, feeds), 0.6)
            times["sklearn"] += _per_call(functools.partial(model.pipeline.predict_proba, part), 0.6)
        for name, total in times.items():
            result.measured[f"{name}_{n}row_us"] = (total / 3 * 1e6, "µs/call")
        result.ratios[f"kernel_vs_ort_time_{n}row"] = times["kernel"] / times["ort"]
        result.ratios[f"sklearn_vs_kernel_time_{n}row"] = times["sklearn"] / times["kernel"]
        met = met and times["kernel"] <= 1.1 * times["ort"] and times["sklearn"] > times["kernel"]
        expected = model.pipeline.predict_proba(part)
        got = kernel.predict(feeds).probabilities
        result.measured[f"max_abs_diff_{n}row"] = (float(np.abs(expected - got).max()), "probability")
    result.met = met
    result.notes.append("ratios > 1 for sklearn_vs_kernel mean the ONNX kernel is that many times faster")
    return result
