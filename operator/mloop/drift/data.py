"""Turning the reference parquet and logged requests into the columns the detectors compare.

Both sides are brought to what the model sees: numeric features as float32 (the ONNX input type; a JSON
0.1 and a parquet float32 0.1 must compare equal, or KS would see ties as differences) held in float64 with
NaN for missing, categorical features as strings with every spelling of "missing" (None, NaN, and the
``"nan"``/``"None"``/``"<NA>"`` strings a pandas ``astype(str)`` leaves behind) folded into one category,
``""``, the serving signature's missing value.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mloop.drift.detector import MISSING_CATEGORY, FeatureSpec, Kind
from mloop.drift.storage import CheckFailure
from mloop.drift.window import Record

__all__ = [
    "PredictionSample",
    "category",
    "feature_specs",
    "load_reference",
    "number",
    "positive_class",
    "prediction_sample",
    "reference_columns",
    "window_columns",
]

MISSING_SPELLINGS = frozenset({"", "nan", "NaN", "None", "<NA>"})


def load_reference(data: bytes) -> Any:
    """The reference sample as a pandas DataFrame; an unreadable file is a failed check."""
    import pandas as pd  # noqa: PLC0415 - pandas/pyarrow only when there is a reference to read

    try:
        return pd.read_parquet(io.BytesIO(data))
    except ImportError as exc:
        raise CheckFailure("ReferenceUnreadable", f"reading parquet needs pyarrow: {exc}") from exc
    except Exception as exc:  # pyarrow raises many types for a bad file; all mean the same here
        raise CheckFailure("ReferenceUnreadable", f"reference.parquet: {type(exc).__name__}: {exc}") from exc


def _kind_of(series: Any) -> Kind:
    import pandas as pd  # noqa: PLC0415

    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    return "numeric" if numeric else "categorical"


def feature_specs(
    reference: Any, signature: Mapping[str, Any] | None, selected: Sequence[str]
) -> list[FeatureSpec]:
    """The features to test, in signature order (else reference column order), kinds from the signature's
    ``kind`` (else the reference dtype); ``selected`` narrows them (``detector.features``)."""
    columns = [str(c) for c in reference.columns]
    if signature and signature.get("inputs"):
        specs = [
            FeatureSpec(str(i["name"]), "categorical" if i.get("kind") == "categorical" else "numeric")
            for i in signature["inputs"]
        ]
        missing = [s.name for s in specs if s.name not in columns]
        if missing:
            raise CheckFailure("ReferenceMismatch", f"signature inputs not in the reference: {missing[:10]}")
    else:
        specs = [FeatureSpec(c, _kind_of(reference[c])) for c in columns]
    if selected:
        known = {s.name for s in specs}
        unknown = [n for n in selected if n not in known]
        if unknown:
            raise CheckFailure(
                "UnknownFeature", f"detector.features not in the model's inputs: {unknown[:10]}"
            )
        wanted = set(selected)
        specs = [s for s in specs if s.name in wanted]
    if not specs:
        raise CheckFailure("NoFeatures", "no features to test")
    return specs


def number(value: Any) -> float:
    """A logged value as the float32 the model saw (NaN when missing or not a number)."""
    if value is None or isinstance(value, str | dict | list):
        try:
            return float(np.float32(value)) if isinstance(value, str) else math.nan
        except ValueError:
            return math.nan
    try:
        return float(np.float32(value))
    except (TypeError, ValueError):
        return math.nan


def category(value: Any) -> str:
    """A logged or reference value as its category string; all missing spellings become ``""``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_CATEGORY
    text = value if isinstance(value, str) else str(value)
    return MISSING_CATEGORY if text in MISSING_SPELLINGS else text


def reference_columns(reference: Any, specs: Sequence[FeatureSpec]) -> dict[str, npt.NDArray[np.generic]]:
    import pandas as pd  # noqa: PLC0415

    out: dict[str, npt.NDArray[np.generic]] = {}
    for spec in specs:
        column = reference[spec.name]
        if spec.kind == "numeric":
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            out[spec.name] = values.astype(np.float32).astype(np.float64)
        else:
            out[spec.name] = np.array([category(v) for v in column.tolist()], dtype=object)
    return out


def window_columns(
    records: Sequence[Record], specs: Sequence[FeatureSpec]
) -> dict[str, npt.NDArray[np.generic]]:
    out: dict[str, npt.NDArray[np.generic]] = {}
    for spec in specs:
        raw = [r.features.get(spec.name) for r in records]
        if spec.kind == "numeric":
            out[spec.name] = np.array([number(v) for v in raw], dtype=np.float64)
        else:
            out[spec.name] = np.array([category(v) for v in raw], dtype=object)
    return out


class PredictionSample:
    """The prediction distribution of some requests: numeric (a value, or P(positive class) for binary
    classifiers) for KS, or the predicted label for chi-square (multiclass, or labels without values)."""

    def __init__(self, kind: Kind, values: npt.NDArray[np.generic], source: str) -> None:
        self.kind = kind
        self.values = values
        self.source = source


def positive_class(records: Sequence[Record], classes: Sequence[str]) -> str | None:
    """The class whose probability stands for a binary classifier's output: the signature's second class
    (sklearn's positive), else the larger of the two logged class names; None unless exactly two."""
    keys: set[str] = set()
    for r in records:
        if r.probabilities:
            keys.update(str(k) for k in r.probabilities)
    if len(keys) != 2:
        return None
    if len(classes) == 2 and set(classes) == keys:
        return str(classes[1])
    return sorted(keys)[1]


def prediction_sample(
    records: Sequence[Record], classes: Sequence[str], positive: str | None = None
) -> PredictionSample | None:
    """What to compare for prediction drift; ``positive`` pins the class (so baseline and window agree)."""
    positive = positive or positive_class(records, classes)
    if positive is not None:
        probs = [
            number({str(k): v for k, v in r.probabilities.items()}.get(positive))
            if r.probabilities
            else math.nan
            for r in records
        ]
        return PredictionSample("numeric", np.array(probs), f"probabilities[{positive}]")
    preds = [r.prediction for r in records if r.prediction is not None]
    if not preds:
        return None
    if all(isinstance(p, int | float) and not isinstance(p, bool) for p in preds) and not any(
        r.probabilities for r in records
    ):
        return PredictionSample("numeric", np.array([number(p) for p in preds]), "prediction")
    return PredictionSample("categorical", np.array([category(p) for p in preds], dtype=object), "prediction")
