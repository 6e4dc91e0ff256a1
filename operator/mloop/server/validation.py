"""Request bodies → validated column arrays, or a ``RequestError`` naming the exact field.

Everything a client can send is checked here, before inference, so the model only ever sees columns of
the right type and length: numeric features must be JSON numbers (not booleans, not strings) that are
finite in float32, categorical features strings (valid UTF-8); ``null`` means missing (NaN / "") and is
allowed only where the signature says ``nullable``. Shape problems (not JSON, not an object, wrong row
length, too many rows) are 400; field problems (missing, extra, wrong type, NaN/Inf) are 422.

Speed: the happy path touches each value once at C speed (``itemgetter`` and ``map(type, …)`` over the
rows, one ``np.array`` for all numeric features); the slow per-value scans run only to name a bad field.
A one-row request first tries ``onerow.OneRow``, one pass over the row's values, two arrays in all.
Open Inference Protocol v2 tensors go through ``tensors.TensorValidator``, which reuses the column checks.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from mloop.server.model import Feature, Signature
from mloop.server.onerow import F32_MAX, FLOAT, STRING, OneRow, in_float32_range

__all__ = [
    "F32_MAX",
    "NUMBER",
    "NUMBER_OR_NULL",
    "Batch",
    "RequestError",
    "Validator",
    "bad_number",
    "parse_json",
    "string_column",
]

NUMBER = frozenset({int, float})
NUMBER_OR_NULL = frozenset({int, float, type(None)})
_STRING_OR_NULL = frozenset({str, type(None)})
_FEW_ROWS = 8  # up to this many rows: checks on Python builtins, one small array per feature (B2 profile)


class RequestError(Exception):
    """A client error: HTTP ``status``, a message, and the field it is about (``instances[3].age``)."""

    def __init__(
        self, status: int, message: str, field: str | None = None, feature: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.feature = feature

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "code": self.status}
        if self.field is not None:
            out["field"] = self.field
        if self.feature is not None:
            out["feature"] = self.feature
        return out


@dataclass(slots=True)
class Batch:
    """N validated rows: ``feeds`` for ONNX Runtime ([N, 1] per feature) and what the traffic log needs,
    kept in the cheapest form (the parsed rows, turned into ``{name: value}`` off the request path)."""

    rows: int
    feeds: dict[str, NDArray[Any]]
    records: Sequence[Any]  # dicts, lists in signature order, or None when ``columns`` holds the values
    columns: dict[str, list[Any]] | None = None


def parse_json(body: bytes) -> Any:
    """orjson first; the stdlib only when orjson refuses, so that ``NaN``/``Infinity``/``1e999`` become
    values the validator can reject *with the field's name* instead of a bare "malformed JSON"."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        first = exc
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise RequestError(400, f"malformed JSON: {first}") from None


def bad_number(value: Any) -> str | None:
    """Why ``value`` cannot be a float32 feature value (None = it can)."""
    if type(value) not in NUMBER:
        return f"expected a number, got {_kind(value)}"
    try:
        number = float(value)
    except OverflowError:
        return "number out of range"
    if not math.isfinite(number):
        return "NaN and ±Infinity are not allowed"
    if abs(number) > F32_MAX:
        return "number out of float32 range"
    return None


def _kind(value: Any) -> str:
    return {bool: "a boolean", str: "a string", list: "an array", dict: "an object", type(None): "null"}.get(
        type(value), type(value).__name__
    )


class Validator:
    """Turns ``/predict`` instances and v2 tensors into a ``Batch`` for one signature."""

    def __init__(self, signature: Signature, max_instances: int) -> None:
        self.signature = signature
        self.max_instances = max_instances
        features = signature.features
        self.names = signature.names
        self.keyset = frozenset(self.names)
        self.numeric = [f for f in features if f.numeric]
        self.strings = [f for f in features if not f.numeric]
        self.dtypes = {f.name: (np.float64 if f.dtype == "float64" else np.float32) for f in self.numeric}
        # itemgetter returns a bare value for one key and a tuple for several: always ask for a tuple.
        self._num_keys = [f.name for f in self.numeric]
        self._num_idx = [i for i, f in enumerate(features) if f.numeric]
        self._str_idx = [(i, f) for i, f in enumerate(features) if not f.numeric]
        self._all_nullable = all(f.nullable for f in self.numeric)
        self._nullable_mask = np.array([f.nullable for f in self.numeric], dtype=bool)
        self._all_f32 = all(f.dtype == "float32" for f in self.numeric)
        self._num_names = [f.name for f in self.numeric]
        self._str_keys = [(f.name, f) for f in self.strings]  # made once, not per request
        self._one_row = OneRow(self._num_keys, [k for k, _ in self._str_keys], self.numeric, self.strings)
        self._one_list = OneRow(self._num_idx, [i for i, _ in self._str_idx], self.numeric, self.strings)

    # -- /predict ---------------------------------------------------------------------------------------

    def instances(self, body: Any) -> Batch:
        """Validate ``{"instances": [...]}`` with rows as objects or as lists in signature order."""
        if type(body) is not dict:
            raise RequestError(400, 'the body must be a JSON object like {"instances": [...]}')
        if "instances" not in body:
            raise RequestError(400, "missing 'instances'", "instances")
        for key in body:
            if key != "instances":
                raise RequestError(422, f"unknown field {key!r}", str(key))
        rows = body["instances"]
        n = self._check_rows(rows, "instances")
        first = rows[0]
        if n == 1:  # the usual online call: one pass, or None to let the full checks name the problem
            one = type(first)
            if one is dict and first.keys() == self.keyset:
                feeds = self._one_row.feeds(first)
            elif one is list and len(first) == len(self.names):
                feeds = self._one_list.feeds(first)
            else:
                feeds = None
            if feeds is not None:
                return Batch(1, feeds, rows)
        if type(first) is dict:
            self._check_objects(rows)
            feeds = self._columns(rows, self._num_keys, self._str_keys, self._field_obj)
        elif type(first) is list:
            self._check_lists(rows)
            feeds = self._columns(rows, self._num_idx, self._str_idx, self._field_list)
        else:
            raise RequestError(400, "each instance must be an object or an array", "instances[0]")
        return Batch(n, feeds, rows)

    def _check_rows(self, rows: Any, where: str) -> int:
        if type(rows) is not list:
            raise RequestError(400, f"'{where}' must be an array of rows", where)
        if not rows:
            raise RequestError(400, f"'{where}' must not be empty", where)
        if len(rows) > self.max_instances:
            raise RequestError(400, f"at most {self.max_instances} rows per request, got {len(rows)}", where)
        return len(rows)

    def _check_objects(self, rows: list[Any]) -> None:
        keyset = self.keyset
        for i, row in enumerate(rows):
            if type(row) is not dict:
                raise RequestError(400, "every instance must be an object like the first", f"instances[{i}]")
            if row.keys() != keyset:
                missing = [n for n in self.names if n not in row]
                if missing:
                    raise RequestError(422, "missing feature", f"instances[{i}].{missing[0]}", missing[0])
                extra = next(k for k in row if k not in keyset)
                raise RequestError(422, "unknown feature", f"instances[{i}].{extra}", str(extra))

    def _check_lists(self, rows: list[Any]) -> None:
        width = len(self.names)
        for i, row in enumerate(rows):
            if type(row) is not list:
                raise RequestError(400, "every instance must be an array like the first", f"instances[{i}]")
            if len(row) != width:
                raise RequestError(
                    400, f"row has {len(row)} values, the signature has {width} features", f"instances[{i}]"
                )

    @staticmethod
    def _field_obj(i: int, key: Any, feature: Feature) -> str:
        return f"instances[{i}].{feature.name}"

    @staticmethod
    def _field_list(i: int, key: Any, feature: Feature) -> str:
        return f"instances[{i}][{key}]"

    def _columns(
        self,
        rows: list[Any],
        num_keys: list[Any],
        str_keys: list[tuple[Any, Feature]],
        field: Callable[[int, Any, Feature], str],
    ) -> dict[str, NDArray[Any]]:
        feeds: dict[str, NDArray[Any]] = {}
        if num_keys:
            if len(num_keys) == 1:
                key = num_keys[0]
                table: list[Any] = [(row[key],) for row in rows]
            else:
                table = list(map(itemgetter(*num_keys), rows))
            self._numeric_block(table, rows, num_keys, field, feeds)
        if str_keys and not self._string_block(rows, str_keys, feeds):
            for key, feature in str_keys:
                values = [row[key] for row in rows]
                feeds[feature.name] = string_column(values, feature, partial(_bound, field, key, feature))
        return feeds

    def _numeric_block(
        self,
        table: list[Any],
        rows: list[Any],
        keys: list[Any],
        field: Callable[[int, Any, Feature], str],
        feeds: dict[str, NDArray[Any]],
    ) -> None:
        block: NDArray[np.float64] | None = None
        if len(table) <= _FEW_ROWS:
            flat = list(itertools.chain.from_iterable(table))
            kinds = set(map(type, flat))
            if kinds <= NUMBER and in_float32_range(flat):
                if (
                    kinds == FLOAT and self._all_f32
                ):  # a float rounds to float32 alike with or without float64
                    for j, name in enumerate(self._num_names):
                        feeds[name] = np.array([[t[j]] for t in table], dtype=np.float32)
                else:
                    self._numeric_feeds(np.array(table, dtype=np.float64), feeds)
                return
        else:
            kinds = set(map(type, itertools.chain.from_iterable(table)))
        if kinds <= NUMBER_OR_NULL:
            try:
                block = np.array(table, dtype=np.float64)  # None becomes NaN
            except (OverflowError, ValueError):
                block = None
        if block is not None:
            ok = np.abs(block) <= F32_MAX  # False for NaN and ±Inf too: one comparison checks all three
            if type(None) in kinds:
                nulls = np.array([[v is None for v in row] for row in table], dtype=bool)
                if self._all_nullable or not (nulls & ~self._nullable_mask).any():
                    ok |= nulls
            if ok.all():
                self._numeric_feeds(block, feeds)
                return
        self._raise_numeric(rows, keys, field)

    def _numeric_feeds(self, block: NDArray[np.float64], feeds: dict[str, NDArray[Any]]) -> None:
        if self._all_f32:  # one conversion to contiguous [features, rows], then views
            columns = np.array(block.T, dtype=np.float32, order="C")[:, :, None]
            for j, name in enumerate(self._num_names):
                feeds[name] = columns[j]
        else:
            for j, f in enumerate(self.numeric):
                feeds[f.name] = np.array(block[:, j : j + 1], dtype=self.dtypes[f.name], order="C")

    def _raise_numeric(
        self, rows: list[Any], keys: list[Any], field: Callable[[int, Any, Feature], str]
    ) -> None:
        for i, row in enumerate(rows):
            for key, feature in zip(keys, self.numeric, strict=True):
                value = row[key]
                if value is None:
                    if not feature.nullable:
                        raise RequestError(
                            422, "null is not allowed here", field(i, key, feature), feature.name
                        )
                    continue
                problem = bad_number(value)
                if problem:
                    raise RequestError(422, problem, field(i, key, feature), feature.name)
        raise RequestError(422, "invalid numeric values")  # pragma: no cover - the scan always finds one

    @staticmethod
    def _string_block(
        rows: list[Any], str_keys: list[tuple[Any, Feature]], feeds: dict[str, NDArray[Any]]
    ) -> bool:
        """The common case in one go: every categorical value a valid string. False: check per column."""
        keys = [k for k, _ in str_keys]
        table: list[Any] = (
            [(row[keys[0]],) for row in rows] if len(keys) == 1 else list(map(itemgetter(*keys), rows))
        )
        if not set(map(type, itertools.chain.from_iterable(table))) <= STRING:
            return False
        try:
            "".join(itertools.chain.from_iterable(table)).encode("utf-8")
        except UnicodeEncodeError:
            return False
        if len(table) <= _FEW_ROWS:  # one small array per feature is cheaper than a block and its views
            for j, (_, feature) in enumerate(str_keys):
                feeds[feature.name] = np.array([[t[j]] for t in table], dtype=object)
            return True
        columns = np.array(table, dtype=object).T.copy()[:, :, None]
        for j, (_, feature) in enumerate(str_keys):
            feeds[feature.name] = columns[j]
        return True


def string_column(values: list[Any], feature: Feature, field: Callable[[int], str]) -> NDArray[Any]:
    """One categorical column as an [N, 1] object array; null becomes "" where the feature is nullable."""
    kinds = set(map(type, values))
    if not kinds <= _STRING_OR_NULL or (type(None) in kinds and not feature.nullable):
        for i, value in enumerate(values):
            if value is None and not feature.nullable:
                raise RequestError(422, "null is not allowed here", field(i), feature.name)
            if value is not None and type(value) is not str:
                raise RequestError(422, f"expected a string, got {_kind(value)}", field(i), feature.name)
    if type(None) in kinds:
        values = ["" if v is None else v for v in values]
    try:
        "".join(values).encode("utf-8")
    except UnicodeEncodeError:
        bad = next(i for i, v in enumerate(values) if not _utf8(v))
        raise RequestError(
            422, "text is not valid Unicode (lone surrogate)", field(bad), feature.name
        ) from None
    return np.array(values, dtype=object).reshape(-1, 1)


def _bound(field: Callable[[int, Any, Feature], str], key: Any, feature: Feature, i: int) -> str:
    return field(i, key, feature)


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
