"""Decoding of the protobuf bodies kubectl's typed generators send (``kubectl create configmap``,
``create secret generic``, ``create namespace``): client-go sends built-ins as protobuf and never
falls back to JSON. Only these three kinds are decoded; anything else gets 415.
"""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["ProtobufError", "decode_object"]

_MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """An envelope or kind this decoder does not handle."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: varints as int, length-delimited as bytes."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            fields.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            fields.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return fields


def _text(value: int | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _map_entry(value: int | bytes) -> tuple[str, bytes]:
    entry = dict(_fields(value if isinstance(value, bytes) else b""))
    key, item = entry.get(1, b""), entry.get(2, b"")
    return _text(key), item if isinstance(item, bytes) else b""


def _metadata(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace"}
    for number, value in _fields(data):
        if number in names and value:
            meta[names[number]] = _text(value)
        elif number in (11, 12):
            key, item = _map_entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(value))
    return meta


def _string_map(target: dict[str, Any], field: str, value: int | bytes, *, binary: bool) -> None:
    key, item = _map_entry(value)
    target.setdefault(field, {})[key] = base64.b64encode(item).decode() if binary else item.decode()


def decode_object(body: bytes) -> dict[str, Any]:
    """A ConfigMap, Secret or Namespace from kubectl's protobuf envelope, as its JSON form."""
    if not body.startswith(_MAGIC):
        raise ProtobufError("missing the k8s protobuf envelope")
    envelope = dict(_fields(body[len(_MAGIC) :]))
    type_field = envelope.get(1, b"")
    type_meta = dict(_fields(type_field if isinstance(type_field, bytes) else b""))
    api_version, kind = _text(type_meta.get(1, b"")), _text(type_meta.get(2, b""))
    raw = envelope.get(2, b"")
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    if (api_version, kind) not in (("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace")):
        raise ProtobufError(f"protobuf bodies of {kind} are not supported; send JSON")
    for number, value in _fields(raw if isinstance(raw, bytes) else b""):
        if number == 1 and isinstance(value, bytes):
            obj["metadata"] = _metadata(value)
        elif kind == "ConfigMap" and number in (2, 3):
            _string_map(obj, "data" if number == 2 else "binaryData", value, binary=number == 3)
        elif kind == "ConfigMap" and number == 4:
            obj["immutable"] = bool(value)
        elif kind == "Secret" and number == 2:
            _string_map(obj, "data", value, binary=True)
        elif kind == "Secret" and number == 3:
            obj["type"] = _text(value)
        elif kind == "Secret" and number == 4:
            _string_map(obj, "stringData", value, binary=False)
        elif kind == "Secret" and number == 5:
            obj["immutable"] = bool(value)
    return obj
