"""A row is validated alike whether it comes alone or in a batch.

One-row requests take a shorter path through the validator (the usual online call, see
``validation._OneRow``). Whatever a row holds, sending it alone must give the same feeds, or the same error
naming the same field, as sending it as the first row of a two-row request, which takes the general path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mloop.server.model import Feature, Signature
from mloop.server.validation import F32_MAX, RequestError, Validator

MIXED = Signature(
    task="binary-classification",
    features=(
        Feature("age", "float32"),
        Feature("income", "float32", nullable=False),
        Feature("region", "string"),
        Feature("score", "float32"),
        Feature("plan", "string", nullable=False),
    ),
    classes=("0", "1"),
    outputs=(("label", "tensor(int64)"), ("probabilities", "tensor(float)")),
)
ONLY_NUMBERS = Signature("regression", (Feature("x", "float32"),), (), (("variable", "tensor(float)"),))
ONLY_TEXT = Signature("regression", (Feature("c", "string"),), (), (("variable", "tensor(float)"),))
WIDE_FLOAT = Signature(
    "regression",
    (Feature("x", "float64"), Feature("y", "float32")),
    (),
    (("variable", "tensor(float)"),),
)

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-F32_MAX, max_value=F32_MAX),
    st.sampled_from([F32_MAX, -F32_MAX, 3.5e38, 0.1, -0.0, 1e-46]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.sampled_from(["\ud800", "car", ""]),
    st.lists(st.integers(), max_size=1),
)


def _outcome(validator: Validator, instances: list[Any]) -> tuple[str, Any]:
    try:
        batch = validator.instances({"instances": instances})
    except RequestError as exc:
        return "error", (exc.status, exc.field, exc.feature, exc.message)
    return "feeds", {name: array[:1] for name, array in batch.feeds.items()}


def _same(alone: tuple[str, Any], batched: tuple[str, Any]) -> None:
    assert alone[0] == batched[0], (alone, batched)
    if alone[0] == "error":
        assert alone[1] == batched[1]
        return
    assert alone[1].keys() == batched[1].keys()
    for name, array in alone[1].items():
        other = batched[1][name]
        assert array.shape == other.shape == (1, 1), name
        assert array.dtype == other.dtype, name
        np.testing.assert_array_equal(array, other)


@pytest.mark.parametrize("signature", [MIXED, ONLY_NUMBERS, ONLY_TEXT, WIDE_FLOAT], ids=lambda s: s.names[0])
@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_row_alone_is_validated_as_in_a_batch(signature: Signature, data: st.DataObject) -> None:
    validator = Validator(signature, max_instances=16)
    names = list(signature.names)
    row = {name: data.draw(values, label=name) for name in names}
    if data.draw(st.booleans(), label="as list"):
        row_or_list: Any = [row[name] for name in names]
        good: Any = [_valid(f) for f in signature.features]
    else:
        row_or_list = row
        good = {f.name: _valid(f) for f in signature.features}
    _same(_outcome(validator, [row_or_list]), _outcome(validator, [row_or_list, good]))


def test_the_usual_row_gives_float32_and_text_columns() -> None:
    validator = Validator(MIXED, max_instances=16)
    row = {"age": 41.0, "income": 52_000.5, "region": "north", "score": 0.25, "plan": "gold"}
    batch = validator.instances({"instances": [row]})
    assert batch.rows == 1
    assert batch.feeds["income"].dtype == np.float32
    assert batch.feeds["income"].tolist() == [[52_000.5]]
    assert batch.feeds["plan"].tolist() == [["gold"]]
    assert all(a.flags.c_contiguous for a in batch.feeds.values())


def _valid(feature: Feature) -> Any:
    return 1.5 if feature.numeric else "x"
