"""2,000+ generated requests (random JSON, near-valid rows, v2 tensors, feedback, junk) → never a 5xx.

Near-valid shapes are the interesting part: random JSON alone is rejected at the first check, so most
examples start from the model's real feature names and break one thing (type, NaN, nesting, unicode,
missing or extra keys, huge numbers), which drives the validator into its deeper branches.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import ServerProcess, TrainedModel

EXAMPLES = 2200
FEATURES = {
    "binary": ["f0", "f1", "f2", "f3", "f4", "f5", "region"],
    "regression": ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),
    st.text(max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
    st.sampled_from(["north", "m", "f", "", "🚀", "\x00", "1.5"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=5),
    max_leaves=15,
)


CATEGORICAL = {"region", "sex"}


@st.composite
def rows(draw: st.DrawFn, names: list[str]) -> Any:
    """Half the time a well-typed row (so some requests succeed) with at most one value broken."""
    good = {
        n: draw(st.text(max_size=8) if n in CATEGORICAL else st.floats(-1e4, 1e4) | st.none()) for n in names
    }
    if draw(st.booleans()):
        values = good
        if draw(st.booleans()):
            values[draw(st.sampled_from(names))] = draw(json_values)
    else:
        values = {n: draw(st.one_of(st.floats(-100, 100), scalars, json_values)) for n in names}
        for name in draw(st.lists(st.sampled_from(names), max_size=2)):
            values.pop(name, None)
        values.update(draw(st.dictionaries(st.text(max_size=5), scalars, max_size=2)))
    if draw(st.booleans()):
        return values
    as_list = [values.get(n) for n in names]
    return as_list[: draw(st.integers(0, len(as_list) + 1))] + draw(st.lists(scalars, max_size=1))


@st.composite
def v2_tensors(draw: st.DrawFn, names: list[str]) -> Any:
    tensors = []
    for name in draw(st.lists(st.sampled_from([*names, "input", "x"]), min_size=1, max_size=len(names) + 1)):
        n = draw(st.integers(0, 4))
        tensor: dict[str, Any] = {
            "name": name,
            "shape": draw(st.one_of(st.just([n, 1]), st.just([n]), st.lists(st.integers(-2, 5), max_size=3))),
            "datatype": draw(st.sampled_from(["FP32", "FP64", "INT64", "BYTES", "BOOL", "FP16", "nope"])),
            "data": draw(st.one_of(st.lists(scalars, max_size=n + 1), json_values)),
        }
        if draw(st.integers(0, 9)) == 0:
            tensor["parameters"] = draw(st.one_of(json_values, st.just({"binary_data_size": n * 4})))
        tensors.append(tensor)
    body: dict[str, Any] = {"inputs": tensors}
    if draw(st.booleans()):
        body["outputs"] = draw(st.one_of(json_values, st.just([{"name": "label"}])))
    if draw(st.integers(0, 4)) == 0:
        body["id"] = draw(json_values)
    return body


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    kind = draw(st.sampled_from(sorted(FEATURES)))
    names = FEATURES[kind]
    choice = draw(st.integers(0, 9))
    headers: dict[str, str] = {}
    if choice <= 3:
        path, doc = "/predict", {"instances": draw(st.lists(rows(names), min_size=1, max_size=4))}
        if draw(st.integers(0, 5)) == 0:
            doc[draw(st.text(max_size=4))] = draw(json_values)
    elif choice <= 6:
        model = kind if draw(st.integers(0, 9)) else draw(st.text(max_size=5).filter(lambda s: "/" not in s))
        path, doc = f"/v2/models/{quote(model)}/infer", draw(v2_tensors(names))
        if draw(st.integers(0, 7)) == 0:
            headers["Inference-Header-Content-Length"] = str(draw(st.integers(-5, 400)))
    elif choice == 7:
        path = "/feedback"
        item = st.fixed_dictionaries({"requestId": json_values, "label": json_values}) | json_values
        doc = draw(st.one_of(item, st.lists(item, max_size=3)))
    else:
        path, doc = (
            draw(st.sampled_from(["/predict", f"/v2/models/{kind}/infer", "/feedback"])),
            draw(json_values),
        )
    if draw(st.integers(0, 19)) == 0:
        body = draw(st.binary(max_size=64))
    else:
        body = json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass")
    return kind, path, body, headers


def reject_constant(token: str) -> Any:
    """Responses never contain NaN or ±Infinity as JSON values (strict clients refuse them)."""
    raise AssertionError(f"response contains the non-JSON constant {token}")


def test_generated_requests_never_5xx(
    models: dict[str, TrainedModel], servers: dict[str, ServerProcess]
) -> None:
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(requests())
    def check(request: tuple[str, str, bytes, dict[str, str]]) -> None:
        kind, path, body, headers = request
        status, raw = servers[kind].request("POST", path, body, headers)
        statuses[status] += 1
        assert status < 500, (path, body[:300], raw[:300])
        # parse_constant sees only bare NaN/Infinity tokens, never the words inside an error message
        answer = json.loads(raw, parse_constant=reject_constant)
        if status >= 400:
            assert answer["error"]
            assert answer["code"] == status

    check()
    assert sum(statuses.values()) >= 2000
    assert set(statuses) <= {200, 202, 400, 404, 413, 422}, statuses
    assert statuses[200] + statuses[202] > 0, statuses
    assert statuses[422] > 100, statuses
    assert statuses[400] > 100, statuses
    for kind in FEATURES:
        server = servers[kind]
        assert server.metric("mloop_prediction_errors_total", code="500") == 0
        assert "internal error" not in server.logs()
