"""A corpus of bad requests, each answered with the right 4xx and a JSON body naming the field."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from tests.server.conftest import ServerProcess

# The binary model's signature: f0..f5 numeric (nullable), region categorical.
GOOD: dict[str, Any] = {"f0": 0.1, "f1": -1.0, "f2": 2, "f3": 0.0, "f4": 1e-3, "f5": 3.5, "region": "north"}
ROW = [0.1, -1.0, 2, 0.0, 1e-3, 3.5, "north"]


def _with(**changes: Any) -> dict[str, Any]:
    row = dict(GOOD)
    for key, value in changes.items():
        if value is _DROP:
            row.pop(key)
        else:
            row[key] = value
    return row


_DROP = object()
I = "instances"  # noqa: E741

# (id, path, raw body, expected status, expected field or None, expected feature or None)
CORPUS: list[tuple[str, str, bytes, int, str | None, str | None]] = [
    ("malformed json", "/predict", b'{"instances": [', 400, None, None),
    ("not json at all", "/predict", b"\x00\xff\xfe", 400, None, None),
    ("empty body", "/predict", b"", 400, None, None),
    ("body is a list", "/predict", b"[1, 2]", 400, None, None),
    ("body is a string", "/predict", b'"hello"', 400, None, None),
    ("no instances", "/predict", b'{"rows": []}', 400, "instances", None),
    ("instances not a list", "/predict", b'{"instances": {"f0": 1}}', 400, "instances", None),
    ("instances empty", "/predict", b'{"instances": []}', 400, "instances", None),
    ("extra top-level field", "/predict", json.dumps({I: [GOOD], "debug": True}).encode(), 422, "debug", None),  # noqa: E501
    ("row is a number", "/predict", b'{"instances": [5]}', 400, "instances[0]", None),
    ("mixed row kinds", "/predict", json.dumps({I: [GOOD, ROW]}).encode(), 400, "instances[1]", None),
    ("missing feature", "/predict", json.dumps({I: [GOOD, _with(f3=_DROP)]}).encode(), 422, "instances[1].f3", "f3"),  # noqa: E501
    ("extra feature", "/predict", json.dumps({I: [_with(bonus=1)]}).encode(), 422, "instances[0].bonus", "bonus"),  # noqa: E501
    ("string for numeric", "/predict", json.dumps({I: [GOOD, GOOD, _with(f2="3.5")]}).encode(), 422,
     "instances[2].f2", "f2"),
    ("bool for numeric", "/predict", json.dumps({I: [_with(f1=True)]}).encode(), 422, "instances[0].f1", "f1"),  # noqa: E501
    ("list for numeric", "/predict", json.dumps({I: [_with(f1=[1])]}).encode(), 422, "instances[0].f1", "f1"),
    ("number for string", "/predict", json.dumps({I: [_with(region=7)]}).encode(), 422,
     "instances[0].region", "region"),
    ("bool for string", "/predict", json.dumps({I: [_with(region=False)]}).encode(), 422,
     "instances[0].region", "region"),
    ("object for string", "/predict", json.dumps({I: [_with(region={})]}).encode(), 422,
     "instances[0].region", "region"),
    ("NaN literal", "/predict", b'{"instances": [[NaN, 1, 2, 3, 4, 5, "x"]]}', 422, "instances[0][0]", "f0"),
    ("Infinity literal", "/predict", json.dumps({I: [GOOD, GOOD, GOOD, _with(f4=float("inf"))]}).encode(),
     422, "instances[3].f4", "f4"),
    ("-Infinity literal", "/predict", b'{"instances": [[1, -Infinity, 2, 3, 4, 5, "x"]]}', 422,
     "instances[0][1]", "f1"),
    ("overflowing number", "/predict", b'{"instances": [[1, 1e999, 2, 3, 4, 5, "x"]]}', 422, "instances[0][1]", "f1"),  # noqa: E501
    ("beyond float32", "/predict", json.dumps({I: [_with(f5=1e39)]}).encode(), 422, "instances[0].f5", "f5"),
    ("huge integer", "/predict", ('{"instances": [[1, 2, ' + "9" * 400 + ', 3, 4, 5, "x"]]}').encode(), 422,
     "instances[0][2]", "f2"),
    ("short row", "/predict", json.dumps({I: [ROW[:-1]]}).encode(), 400, "instances[0]", None),
    ("long row", "/predict", json.dumps({I: [ROW, [*ROW, 1]]}).encode(), 400, "instances[1]", None),
    ("lone surrogate", "/predict", b'{"instances": [[1, 2, 3, 4, 5, 6, "\\ud800"]]}', 422, "instances[0][6]",
     "region"),
    ("too many instances", "/predict", json.dumps({I: [ROW] * 10_001}).encode(), 400, "instances", None),
    ("deep nesting", "/predict", b"[" * 100_000 + b"]" * 100_000, 400, None, None),
    # v2
    ("v2 unknown model", "/v2/models/other/infer", b'{"inputs": []}', 404, "name", None),
    ("v2 no inputs", "/v2/models/binary/infer", b'{"inputs": []}', 400, "inputs", None),
    ("v2 bad datatype", "/v2/models/binary/infer",
     b'{"inputs": [{"name": "f0", "shape": [1], "datatype": "FP99", "data": [1]}]}', 422, "inputs[0].datatype", None),  # noqa: E501
    ("v2 data/shape mismatch", "/v2/models/binary/infer",
     b'{"inputs": [{"name": "f0", "shape": [2], "datatype": "FP32", "data": [1]}]}', 400, "inputs[0].data", None),  # noqa: E501
    ("v2 missing feature", "/v2/models/binary/infer",
     b'{"inputs": [{"name": "f0", "shape": [1], "datatype": "FP32", "data": [1]}]}', 422, "inputs", "f1"),
    ("v2 unknown output", "/v2/models/binary/infer",
     b'{"inputs": [{"name": "f0", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "x"}]}',  # noqa: E501
     422, "outputs[0].name", "x"),
    ("v2 negative shape", "/v2/models/binary/infer",
     b'{"inputs": [{"name": "f0", "shape": [-1], "datatype": "FP32", "data": [1]}]}', 422, "inputs[0].shape", None),  # noqa: E501
    ("v2 giant shape", "/v2/models/binary/infer",
     b'{"inputs": [{"name": "f0", "shape": [1000000000000], "datatype": "FP32", "data": []}]}', 400,
     "inputs[0].shape", None),
    # feedback
    ("feedback no label", "/feedback", b'{"requestId": "abc"}', 422, "label", None),
    ("feedback unknown class", "/feedback", b'{"requestId": "abc", "label": 7}', 422, "label", None),
    ("feedback list item bad", "/feedback", b'[{"requestId": "a", "label": 1}, {"requestId": 5, "label": 1}]',
     422, "[1].requestId", None),
]  # fmt: skip


def _v2_full(bad: dict[str, Any]) -> bytes:
    """A complete per-feature v2 request with one tensor replaced by ``bad``."""
    inputs = []
    for name, value in GOOD.items():
        datatype = "BYTES" if name == "region" else "FP32"
        inputs.append({"name": name, "shape": [1, 1], "datatype": datatype, "data": [value]})
    inputs = [bad if t["name"] == bad["name"] else t for t in inputs]
    return json.dumps({"inputs": inputs}).encode()


CORPUS += [
    ("v2 string in FP32", "/v2/models/binary/infer",
     _v2_full({"name": "f2", "shape": [1, 1], "datatype": "FP32", "data": ["x"]}), 422, "inputs[2].data[0]", "f2"),  # noqa: E501
    ("v2 FP32 for categorical", "/v2/models/binary/infer",
     _v2_full({"name": "region", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}), 422,
     "inputs[6].datatype", "region"),
    ("v2 wide feature tensor", "/v2/models/binary/infer",
     _v2_full({"name": "f1", "shape": [1, 2], "datatype": "FP32", "data": [1.0, 2.0]}), 400,
     "inputs[1].shape", None),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "status", "field", "feature"), [c[1:] for c in CORPUS],
                         ids=[c[0] for c in CORPUS])  # fmt: skip
def test_bad_request(
    servers: dict[str, ServerProcess],
    path: str,
    body: bytes,
    status: int,
    field: str | None,
    feature: str | None,
) -> None:
    server = servers["binary"]
    got, raw = server.request("POST", path, body, {"Content-Type": "application/json"})
    answer = json.loads(raw)
    assert got == status, answer
    assert answer["code"] == status
    assert answer["error"]
    assert len(answer["requestId"]) == 36
    if field is not None:
        assert answer.get("field") == field, answer
    if feature is not None:
        assert answer.get("feature") == feature, answer


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25


def _raw_exchange(port: int, head: bytes, body_chunks: list[bytes]) -> tuple[int, dict[str, Any]]:
    """Send a request over a raw socket, ignoring a reset while sending (the server may answer 413 and
    close before the body is through, which is the point), and parse the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            more = sock.recv(65536)
            if not more:
                break
            data += more
    head_part, _, rest = data.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    return status, json.loads(rest[: _length(data)])


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def test_body_over_the_limit_is_413(servers: dict[str, ServerProcess]) -> None:
    server = servers["binary"]
    body = b'{"instances": [' + b" " * (2 * 1024 * 1024) + b"]}"
    # declared by Content-Length: refused before the body is read
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    status, answer = _raw_exchange(server.port, head, [body])
    assert status == 413
    assert answer["field"] == "body"
    assert answer["code"] == 413
    # streamed without Content-Length (chunked): counted as it arrives
    head = b"POST /v2/models/binary/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = [
        b"%x\r\n%s\r\n" % (len(c), c) for c in (body[i : i + 65536] for i in range(0, len(body), 65536))
    ]
    status, answer = _raw_exchange(server.port, head, [*chunks, b"0\r\n\r\n"])
    assert status == 413
    assert answer["field"] == "body"
    # the server is still fine afterwards
    assert server.request("POST", "/predict", json.dumps({"instances": [GOOD]}).encode())[0] == 200
