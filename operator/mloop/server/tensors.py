"""Open Inference Protocol v2 tensors → the same validated ``Batch`` as ``/predict`` rows.

Per-feature tensors (``inputs[k].name`` names a feature) or one [N, F] table in signature order; the
checks and the field names in errors (``inputs[2].data[5]``) mirror ``validation.Validator``, whose
column checks they reuse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mloop.server.model import Feature
from mloop.server.validation import (
    F32_MAX,
    NUMBER,
    NUMBER_OR_NULL,
    Batch,
    RequestError,
    Validator,
    bad_number,
    string_column,
)

__all__ = ["TensorValidator"]


class TensorValidator:
    """Turns v2 ``inputs`` into a ``Batch`` for the signature of ``rows``."""

    def __init__(self, rows: Validator) -> None:
        self.rows = rows

    def batch(self, inputs: Any, data: Sequence[Sequence[Any]]) -> Batch:
        """Per-feature tensors (``inputs[k].name`` = feature) or one [N, F] table; ``data`` holds each
        tensor's flattened elements (decoded from JSON or the binary extension by the caller)."""
        if len(inputs) == 1 and inputs[0]["name"] not in self.rows.keyset and len(self.rows.names) > 1:
            return self._table(inputs[0], data[0])
        seen: dict[str, int] = {}
        for k, tensor in enumerate(inputs):
            name = tensor["name"]
            if name not in self.rows.keyset:
                raise RequestError(
                    422, "unknown input (not a feature of this model)", f"inputs[{k}].name", name
                )
            if name in seen:
                raise RequestError(422, "input given twice", f"inputs[{k}].name", name)
            seen[name] = k
        missing = [n for n in self.rows.names if n not in seen]
        if missing:
            raise RequestError(422, "missing input", "inputs", missing[0])
        n = -1
        for k, tensor in enumerate(inputs):
            shape = tensor["shape"]
            if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
                raise RequestError(
                    400, f"feature tensors must be [N] or [N, 1], got {shape}", f"inputs[{k}].shape"
                )
            if n not in (-1, shape[0]):
                raise RequestError(400, "all inputs must have the same number of rows", f"inputs[{k}].shape")
            n = shape[0]
        if not 0 < n <= self.rows.max_instances:
            raise RequestError(
                400, f"between 1 and {self.rows.max_instances} rows per request, got {n}", "inputs"
            )
        feeds: dict[str, NDArray[Any]] = {}
        columns: dict[str, list[Any]] = {}
        for f in self.rows.signature.features:
            k = seen[f.name]
            datatype, values = inputs[k]["datatype"], data[k]
            if f.numeric:
                if datatype in ("BYTES", "BOOL"):
                    raise RequestError(
                        422,
                        f"numeric feature needs a numeric datatype, got {datatype}",
                        f"inputs[{k}].datatype",
                        f.name,
                    )
                feeds[f.name] = self._numeric_column(values, f, partial(_v2_field, k))
                columns[f.name] = (
                    feeds[f.name].reshape(-1).tolist() if not isinstance(values, list) else values
                )
            else:
                if datatype != "BYTES":
                    raise RequestError(
                        422,
                        f"categorical feature needs BYTES, got {datatype}",
                        f"inputs[{k}].datatype",
                        f.name,
                    )
                feeds[f.name] = string_column(list(values), f, partial(_v2_field, k))
                columns[f.name] = feeds[f.name].reshape(-1).tolist()
        return Batch(n, feeds, (), columns)

    def _numeric_column(self, values: Sequence[Any], f: Feature, field: Callable[[int], str]) -> NDArray[Any]:
        if isinstance(values, np.ndarray):
            array = values.astype(np.float64)
            nulls = None
        else:
            kinds = set(map(type, values))
            allowed = NUMBER_OR_NULL if f.nullable else NUMBER
            array = None
            if kinds <= allowed:
                try:
                    array = np.array(values, dtype=np.float64)
                except (OverflowError, ValueError):
                    array = None
            nulls = np.array([v is None for v in values]) if type(None) in kinds else None
            if array is None:
                self._raise_column(values, f, field)
        assert array is not None
        ok = np.isfinite(array) & (np.abs(array) <= F32_MAX)
        if nulls is not None:
            ok |= nulls
        if not ok.all():
            i = int(np.argmin(ok))
            raise RequestError(422, "NaN, ±Infinity or out of float32 range", field(i), f.name)
        return array.astype(self.rows.dtypes[f.name]).reshape(-1, 1)

    @staticmethod
    def _raise_column(values: Sequence[Any], f: Feature, field: Callable[[int], str]) -> None:
        for i, value in enumerate(values):
            if value is None:
                if not f.nullable:
                    raise RequestError(422, "null is not allowed here", field(i), f.name)
                continue
            problem = bad_number(value)
            if problem:
                raise RequestError(422, problem, field(i), f.name)
        raise RequestError(422, "invalid numeric values", field(0), f.name)  # pragma: no cover

    def _table(self, tensor: dict[str, Any], values: Sequence[Any]) -> Batch:
        """One [N, F] tensor: rows in signature order, validated exactly like ``/predict`` list rows."""
        shape, width = tensor["shape"], len(self.rows.names)
        if len(shape) != 2 or shape[1] != width:
            raise RequestError(400, f"a table input must be [N, {width}], got {shape}", "inputs[0].shape")
        if tensor["datatype"] not in ("BYTES", "FP32", "FP64") or (
            tensor["datatype"] != "BYTES" and self.rows.strings
        ):
            raise RequestError(
                422, f"datatype {tensor['datatype']} cannot carry these features", "inputs[0].datatype"
            )
        flat = values.tolist() if isinstance(values, np.ndarray) else list(values)
        rows = [flat[i * width : (i + 1) * width] for i in range(shape[0])]
        try:
            return self.rows.instances({"instances": rows})
        except RequestError as exc:
            raise RequestError(
                exc.status, exc.message, (exc.field or "").replace("instances", "inputs[0].data"), exc.feature
            ) from None


def _v2_field(k: int, i: int) -> str:
    return f"inputs[{k}].data[{i}]"
