"""Open Inference Protocol v2 (KServe / Triton REST) message shapes: decode requests, encode answers.

Only structure lives here (tensor names, shapes, datatypes, flattening, the binary tensor extension that
``tritonclient.http`` uses by default); whether the tensors fit the model is ``validation.Validator``'s job.
Answers are always JSON tensors: ``tritonclient`` reads JSON outputs even when it asked for binary ones.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mloop.server.model import Prediction, Signature
from mloop.server.validation import RequestError, parse_json

__all__ = ["InferRequest", "decode_infer", "encode_infer", "model_metadata"]

_BINARY = {
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
}  # fmt: skip
DATATYPES = frozenset({*_BINARY, "BYTES", "BOOL"})
_TOP = frozenset({"id", "inputs", "outputs", "parameters"})
_TENSOR = frozenset({"name", "shape", "datatype", "data", "parameters"})
_MAX_ID = 256


@dataclass(slots=True)
class InferRequest:
    """A decoded v2 request: tensors (name/shape/datatype), their flat elements, the requested outputs."""

    id: str | None
    inputs: list[dict[str, Any]]
    data: list[Sequence[Any]]
    outputs: list[str] | None


def decode_infer(body: bytes, header_length: str | None, max_elements: int) -> InferRequest:
    """Parse the JSON part (and the binary tail when ``Inference-Header-Content-Length`` is set)."""
    tail = b""
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise RequestError(400, "Inference-Header-Content-Length is not a length within the body")
        split = int(header_length)
        body, tail = body[:split], body[split:]
    doc = parse_json(body)
    if type(doc) is not dict:
        raise RequestError(400, 'the body must be a JSON object like {"inputs": [...]}')
    for key in doc:
        if key not in _TOP:
            raise RequestError(422, f"unknown field {key!r}", str(key))
    request_id = doc.get("id")
    if request_id is not None and (type(request_id) is not str or len(request_id) > _MAX_ID):
        raise RequestError(422, f"id must be a string of at most {_MAX_ID} characters", "id")
    if "parameters" in doc and type(doc["parameters"]) is not dict:
        raise RequestError(422, "parameters must be an object", "parameters")
    inputs = doc.get("inputs")
    if type(inputs) is not list or not inputs:
        raise RequestError(400, "'inputs' must be a non-empty array of tensors", "inputs")
    data: list[Sequence[Any]] = []
    offset = 0
    for k, tensor in enumerate(inputs):
        values, offset = _tensor(k, tensor, tail, offset, max_elements)
        data.append(values)
    if offset != len(tail):
        raise RequestError(400, f"{len(tail) - offset} unread bytes after the binary tensors")
    return InferRequest(request_id, inputs, data, _outputs(doc.get("outputs")))


def _tensor(k: int, tensor: Any, tail: bytes, offset: int, max_elements: int) -> tuple[Sequence[Any], int]:
    where = f"inputs[{k}]"
    if type(tensor) is not dict:
        raise RequestError(400, "each input must be a tensor object", where)
    for key in tensor:
        if key not in _TENSOR:
            raise RequestError(422, f"unknown tensor field {key!r}", f"{where}.{key}")
    name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if type(name) is not str or not name:
        raise RequestError(422, "name must be a non-empty string", f"{where}.name")
    if type(shape) is not list or not shape or not all(type(d) is int and d >= 0 for d in shape):
        raise RequestError(422, "shape must be a non-empty array of non-negative integers", f"{where}.shape")
    if datatype not in DATATYPES:
        raise RequestError(422, f"datatype must be one of {sorted(DATATYPES)}", f"{where}.datatype")
    count = math.prod(shape) if all(d <= max_elements for d in shape) else max_elements + 1
    if count > max_elements:
        raise RequestError(400, f"at most {max_elements} elements per tensor", f"{where}.shape")
    params = tensor.get("parameters", {})
    if type(params) is not dict:
        raise RequestError(422, "parameters must be an object", f"{where}.parameters")
    size = params.get("binary_data_size")
    if size is not None:
        if "data" in tensor or type(size) is not int or size < 0 or offset + size > len(tail):
            raise RequestError(400, "binary_data_size does not match the binary tail", f"{where}.parameters")
        chunk = tail[offset : offset + size]
        return _binary(chunk, datatype, count, where), offset + size
    if "data" not in tensor:
        raise RequestError(422, "a tensor needs data (or parameters.binary_data_size)", f"{where}.data")
    values = tensor["data"]
    if type(values) is not list:
        raise RequestError(422, "data must be an array", f"{where}.data")
    if values and type(values[0]) is list:
        values = _flatten(values, where, depth=len(shape))
    if len(values) != count:
        raise RequestError(
            400, f"data has {len(values)} elements, shape {shape} needs {count}", f"{where}.data"
        )
    return values, offset


def _flatten(values: list[Any], where: str, depth: int) -> list[Any]:
    """Row-major flattening of nested data (the protocol allows both); mixed nesting is a shape error."""
    for _ in range(depth - 1):
        if not all(type(v) is list for v in values):
            raise RequestError(400, "nested data must be nested evenly", f"{where}.data")
        values = [x for v in values for x in v]
    if any(type(v) is list for v in values):
        raise RequestError(400, "data is nested deeper than its shape", f"{where}.data")
    return values


def _binary(chunk: bytes, datatype: str, count: int, where: str) -> Sequence[Any]:
    if datatype == "BYTES":
        out: list[str] = []
        pos = 0
        while pos < len(chunk):
            if pos + 4 > len(chunk):
                raise RequestError(400, "truncated BYTES element", f"{where}.parameters")
            (length,) = struct.unpack_from("<I", chunk, pos)
            item = chunk[pos + 4 : pos + 4 + length]
            if len(item) != length:
                raise RequestError(400, "truncated BYTES element", f"{where}.parameters")
            try:
                out.append(item.decode("utf-8"))
            except UnicodeDecodeError:
                raise RequestError(422, "element is not UTF-8 text", f"{where}.data[{len(out)}]") from None
            pos += 4 + length
        if len(out) != count:
            raise RequestError(400, f"{len(out)} BYTES elements, shape needs {count}", f"{where}.shape")
        return out
    if datatype == "BOOL":
        raise RequestError(422, "BOOL tensors are not accepted by this model", f"{where}.datatype")
    dtype = np.dtype(_BINARY[datatype])
    if len(chunk) != count * dtype.itemsize:
        raise RequestError(
            400, f"{len(chunk)} bytes do not hold {count} {datatype} elements", f"{where}.shape"
        )
    array: NDArray[Any] = np.frombuffer(chunk, dtype=dtype)
    return array  # type: ignore[return-value]  # an ndarray is a sequence of its elements


def _outputs(requested: Any) -> list[str] | None:
    if requested is None:
        return None
    if type(requested) is not list or not all(
        type(o) is dict and type(o.get("name")) is str for o in requested
    ):
        raise RequestError(422, "outputs must be an array of {name: ...} objects", "outputs")
    return [o["name"] for o in requested]


def _datatype(onnx_type: str) -> str:
    return {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64"}.get(
        onnx_type, "BYTES"
    )


def model_metadata(signature: Signature, name: str, version: str) -> dict[str, Any]:
    """``GET /v2/models/{name}``: platform, inputs and outputs with datatype and shape (-1 = any)."""
    width = len(signature.classes)
    outputs = []
    for out, onnx_type in signature.outputs:
        shape = [-1, width] if out == "probabilities" else ([-1, 1] if out == "variable" else [-1])
        outputs.append({"name": out, "datatype": _datatype(onnx_type), "shape": shape})
    return {
        "name": name,
        "versions": [version],
        "platform": "onnxruntime",
        "inputs": [
            {
                "name": f.name,
                "datatype": "BYTES" if not f.numeric else ("FP64" if f.dtype == "float64" else "FP32"),
                "shape": [-1, 1],
            }
            for f in signature.features
        ],
        "outputs": outputs,
        "parameters": {"signature": signature.to_json()},
    }


def encode_infer(
    prediction: Prediction,
    *,
    signature: Signature,
    name: str,
    version: str,
    request_id: str,
    requested: list[str] | None,
) -> dict[str, Any]:
    """The v2 answer with one JSON tensor per model output (filtered by the request's ``outputs``)."""
    tensors: dict[str, dict[str, Any]] = {}
    n = int(prediction.score.shape[0])
    if prediction.labels is not None and prediction.probabilities is not None:
        labels = prediction.labels
        string = labels.dtype.kind in "OUS"
        tensors["label"] = {
            "name": "label",
            "datatype": "BYTES" if string else "INT64",
            "shape": [n],
            "data": labels.tolist() if string else labels,
        }
        probs = prediction.probabilities
        tensors["probabilities"] = {
            "name": "probabilities",
            "datatype": "FP32",
            "shape": list(probs.shape),
            "data": probs.reshape(-1),
        }
    elif prediction.values is not None:
        tensors["variable"] = {
            "name": "variable",
            "datatype": "FP32",
            "shape": [n, 1],
            "data": prediction.values,
        }
    if requested is not None:
        unknown = [r for r in requested if r not in tensors]
        if unknown:
            raise RequestError(
                422, f"unknown output {unknown[0]!r}; outputs are {sorted(tensors)}", "outputs"
            )
    names = requested if requested is not None else list(tensors)
    return {
        "model_name": name,
        "model_version": version,
        "id": request_id,
        "outputs": [tensors[n] for n in names],
    }
