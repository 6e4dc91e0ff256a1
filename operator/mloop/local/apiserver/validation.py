"""Structural-schema defaulting, pruning and validation (OpenAPI v3 + CEL) of custom resources.

Pure functions the API emulator runs on create/update/patch. Error types and messages follow kube-apiserver
(apimachinery ``field.Error``, kube-openapi's validator, the apiextensions CEL validator) so that clients, the
operator and tests see what a real cluster would say.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import ipaddress
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mloop.local.apiserver.cel import RuleFailure, check_rules, has_rules, rule_problems

__all__ = ["FieldError", "apply_defaults_and_prune", "compile_rules", "validate_object"]

REQUIRED, NOT_SUPPORTED, INVALID = "FieldValueRequired", "FieldValueNotSupported", "FieldValueInvalid"
TYPE_INVALID, TOO_LONG, TOO_MANY = "FieldValueTypeInvalid", "FieldValueTooLong", "FieldValueTooMany"
DUPLICATE, FORBIDDEN = "FieldValueDuplicate", "FieldValueForbidden"
_BODY = {
    REQUIRED: "Required value",
    NOT_SUPPORTED: "Unsupported value",
    INVALID: "Invalid value",
    TYPE_INVALID: "Invalid value",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    DUPLICATE: "Duplicate value",
    FORBIDDEN: "Forbidden",
}
# Like kube-apiserver: after these, CEL rules are not run at all (the data may not have the declared types).
_BLOCKING = frozenset({REQUIRED, NOT_SUPPORTED, TOO_LONG, TOO_MANY, TYPE_INVALID})
_NOT_CHECKED = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"  # noqa: E501
_OMIT = object()


@dataclass(frozen=True)
class FieldError:
    """One cause of a 422: ``path`` as Kubernetes prints it (``<nil>`` = root), cause ``type``, full text."""

    path: str
    type: str
    message: str


def _go_float(x: float) -> str:
    """Go's ``%v`` for float64 (shortest digits, exponent form below 1e-4 and from 1e+06)."""
    if math.isnan(x) or math.isinf(x):
        return "NaN" if math.isnan(x) else ("+Inf" if x > 0 else "-Inf")
    if x == 0:
        return "0"
    sign, digit_tuple, exp = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    sci = len(digit_tuple) + int(exp) - 1
    neg = "-" if sign else ""
    if sci < -4 or sci >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'+' if sci >= 0 else '-'}{abs(sci):02d}"
    if sci >= 0:
        whole, frac = digits[: sci + 1].ljust(sci + 1, "0"), digits[sci + 1 :]
    else:
        whole, frac = "0", "0" * (-sci - 1) + digits
    return neg + whole + ("." + frac if frac else "")


def _quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _go_repr(v: Any) -> str:
    """Go's ``%#v`` of a decoded JSON value (how the apiserver prints lists and objects in messages)."""
    if v is None:
        return "interface {}(nil)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_repr(i) for i in v) + "}"
    items = ", ".join(f"{_quote(str(k))}:{_go_repr(v[k])}" for k in sorted(v))
    return "map[string]interface {}{" + items + "}"


def _go_value(v: Any) -> str:
    """Go's rendering of ``BadValue`` in ``field.Error`` (nil prints as the quoted string "null")."""
    return '"null"' if v is None else _go_repr(v)


def _error(kind: str, path: str, value: Any = _OMIT, detail: str = "") -> FieldError:
    body = _BODY[kind]
    if kind not in (REQUIRED, FORBIDDEN, TOO_LONG) and value is not _OMIT:
        body += ": " + _go_value(value)
    if detail:
        body += ": " + detail
    field = path or "<nil>"
    return FieldError(field, kind, f"{field}: {body}")


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _sub(schema: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = schema.get(key)
    return value if isinstance(value, Mapping) else None


# ---------------------------------------------------------------- defaulting and pruning


def apply_defaults_and_prune(schema: Mapping[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy with ``default``s applied and unknown fields dropped, as the apiserver stores it.

    Nulls in non-nullable fields are dropped (or replaced by the default), like Kubernetes since 1.20.
    """
    out: dict[str, Any] = copy.deepcopy(dict(obj))
    _default(out, schema)
    _prune(out, schema, keep_meta=True)
    return out


def _default(value: Any, schema: Mapping[str, Any]) -> None:
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        extra = _sub(schema, "additionalProperties")
        for key, prop in props.items():
            absent = key not in value or (value[key] is None and not prop.get("nullable"))
            if "default" in prop and absent:
                value[key] = copy.deepcopy(prop["default"])
        for key in list(value):
            sub = props.get(key, extra)
            if sub is None:
                continue
            if value[key] is None and not sub.get("nullable"):
                del value[key]
            else:
                _default(value[key], sub)
    elif isinstance(value, list) and (items := _sub(schema, "items")) is not None:
        for i, item in enumerate(value):
            if item is None and "default" in items and not items.get("nullable"):
                value[i] = copy.deepcopy(items["default"])
            _default(value[i], items)


def _prune(value: Any, schema: Mapping[str, Any], *, keep_meta: bool = False) -> None:
    if isinstance(value, dict) and not schema.get("x-kubernetes-int-or-string"):
        props: Mapping[str, Any] = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
        for key in list(value):
            if keep_meta and key in ("apiVersion", "kind", "metadata"):
                continue  # the server keeps the type and ObjectMeta of resources (and embedded ones) as sent
            sub = props.get(key, extra if isinstance(extra, Mapping) else None)
            if sub is not None:
                _prune(value[key], sub, keep_meta=bool(sub.get("x-kubernetes-embedded-resource")))
            elif not (preserve or extra is True):
                del value[key]
    elif isinstance(value, list) and (items := _sub(schema, "items")) is not None:
        for item in value:
            _prune(item, items, keep_meta=bool(items.get("x-kubernetes-embedded-resource")))


# ---------------------------------------------------------------- OpenAPI v3 structural validation


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_ok(expected: str, actual: str, value: Any) -> bool:
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":  # kube-openapi accepts a float that is an integer, such as 2.0
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return expected == actual


def _json_eq(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_eq(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_eq(a[k], b[k]) for k in a)
    return bool(a == b)


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


_DATE_TIME = re.compile(r"^\d{4}-(\d{2})-(\d{2})[Tt ](\d{2}):\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^\d{4}-(\d{2})-(\d{2})$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}$")


def _format_ok(fmt: str, value: str) -> bool:
    """The string formats CRDs commonly use, checked like kube-openapi; other formats are accepted."""
    if fmt in ("date-time", "date"):
        m = (_DATE_TIME if fmt == "date-time" else _DATE).match(value)
        return (
            m is not None
            and 1 <= int(m[1]) <= 12
            and 1 <= int(m[2]) <= 31
            and (fmt == "date" or int(m[3]) < 24)
        )
    if fmt == "uuid":
        return _UUID.match(value) is not None
    if fmt in ("ipv4", "ipv6"):
        try:
            return ipaddress.ip_address(value).version == int(fmt[-1])
        except ValueError:
            return False
    if fmt == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):
            return False
    return True


def _check(schema: Mapping[str, Any], value: Any, path: str, errs: list[FieldError]) -> None:
    """kube-openapi's checks for one node, then its children (the order mirrors its validators)."""
    name = path or "."
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    expected = "integer,string" if int_or_string else schema.get("type")
    actual = _json_type(value)
    if value is None and (schema.get("nullable") or not expected):
        return
    if expected and not (
        actual in ("integer", "string") if int_or_string else _type_ok(str(expected), actual, value)
    ):
        errs.append(
            _error(TYPE_INVALID, path, actual, f"{name} in body must be of type {expected}: {_quote(actual)}")
        )
        return
    fmt = schema.get("format")
    if isinstance(value, str):
        _check_string(schema, value, path, errs)
        if isinstance(fmt, str) and not _format_ok(fmt, value):
            errs.append(
                _error(TYPE_INVALID, path, value, f"{name} in body must be of type {fmt}: {_quote(value)}")
            )
    elif actual in ("integer", "number"):
        _check_number(schema, value, path, errs)
    elif isinstance(value, list):
        _check_array(schema, value, path, errs)
    enum = schema.get("enum")
    if enum is not None and not any(_json_eq(value, e) for e in enum):
        allowed = ", ".join(_quote(e if isinstance(e, str) else json.dumps(e)) for e in enum)
        errs.append(_error(NOT_SUPPORTED, path, value, f"supported values: {allowed}"))
    if isinstance(value, dict):
        _check_object(schema, value, path, errs)


def _check_string(schema: Mapping[str, Any], value: str, path: str, errs: list[FieldError]) -> None:
    name = path or "."
    if (limit := schema.get("maxLength")) is not None and len(value) > limit:
        errs.append(_error(TOO_LONG, path, value, f"may not be longer than {limit}"))
    if (limit := schema.get("minLength")) is not None and len(value) < limit:
        errs.append(_error(INVALID, path, value, f"{name} in body should be at least {limit} chars long"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and (rx := _regex(pattern)) is not None and not rx.search(value):
        errs.append(_error(INVALID, path, value, f"{name} in body should match '{pattern}'"))


def _check_number(schema: Mapping[str, Any], value: float, path: str, errs: list[FieldError]) -> None:
    name = path or "."
    factor = schema.get("multipleOf")
    if factor and not (
        value % factor == 0
        if isinstance(value, int) and isinstance(factor, int)
        else (value / factor).is_integer()
    ):
        errs.append(
            _error(INVALID, path, value, f"{name} in body should be a multiple of {_go_float(factor)}")
        )
    if (top := schema.get("maximum")) is not None:
        exclusive = bool(schema.get("exclusiveMaximum"))
        if value > top or (exclusive and value == top):
            bound = "less than" if exclusive else "less than or equal to"
            errs.append(_error(INVALID, path, value, f"{name} in body should be {bound} {_go_float(top)}"))
    if (bottom := schema.get("minimum")) is not None:
        exclusive = bool(schema.get("exclusiveMinimum"))
        if value < bottom or (exclusive and value == bottom):
            bound = "greater than" if exclusive else "greater than or equal to"
            errs.append(_error(INVALID, path, value, f"{name} in body should be {bound} {_go_float(bottom)}"))
    bits = {"int32": 31, "int64": 63}.get(str(schema.get("format")))
    if bits and not -(2**bits) <= value < 2**bits:
        errs.append(_error(TYPE_INVALID, path, value, f"{name} in body must be of type {schema['format']}"))


def _check_array(schema: Mapping[str, Any], value: list[Any], path: str, errs: list[FieldError]) -> None:
    name = path or "."
    if (limit := schema.get("maxItems")) is not None and len(value) > limit:
        errs.append(_error(TOO_MANY, path, len(value), f"must have at most {limit} items"))
    if (limit := schema.get("minItems")) is not None and len(value) < limit:
        errs.append(_error(INVALID, path, len(value), f"{name} in body should have at least {limit} items"))
    if schema.get("uniqueItems") and any(_json_eq(a, b) for i, a in enumerate(value) for b in value[:i]):
        errs.append(_error(INVALID, path, value, f"{name} in body shouldn't contain duplicates"))
    items = _sub(schema, "items")
    for i, item in enumerate(value):
        if items is not None:
            _check(items, item, f"{path}[{i}]", errs)
    list_type = schema.get("x-kubernetes-list-type")
    keys: list[str] = list(schema.get("x-kubernetes-list-map-keys") or [])
    if list_type not in ("set", "map"):
        return
    seen: list[Any] = []
    for i, item in enumerate(value):
        ident = (
            {k: item.get(k) for k in keys if k in item}
            if list_type == "map" and isinstance(item, dict)
            else item
        )
        if any(_json_eq(ident, s) for s in seen):
            errs.append(_error(DUPLICATE, f"{path}[{i}]", ident))
        else:
            seen.append(ident)


def _check_object(
    schema: Mapping[str, Any], value: dict[str, Any], path: str, errs: list[FieldError]
) -> None:
    name = path or "."
    if (limit := schema.get("maxProperties")) is not None and len(value) > limit:
        errs.append(_error(TOO_MANY, path, len(value), f"must have at most {limit} items"))
    if (limit := schema.get("minProperties")) is not None and len(value) < limit:
        errs.append(
            _error(INVALID, path, len(value), f"{name} in body should have at least {limit} properties")
        )
    errs.extend(
        _error(REQUIRED, _child(path, key)) for key in schema.get("required") or [] if key not in value
    )
    props: Mapping[str, Any] = schema.get("properties") or {}
    extra = _sub(schema, "additionalProperties")
    for key, item in value.items():
        sub = props.get(key, extra)
        if sub is not None:
            _check(sub, item, _child(path, key), errs)


def validate_object(
    schema: Mapping[str, Any], obj: Mapping[str, Any], old_obj: Mapping[str, Any] | None
) -> list[FieldError]:
    """Validate a defaulted, pruned object: schema first, then CEL rules (``old_obj`` set on update).

    As in kube-apiserver, CEL rules are skipped when a blocking schema error (type, required, enum, too
    long, too many) exists, and a note says so; other schema errors do not stop the rules.
    """
    errs: list[FieldError] = []
    _check(schema, obj, "", errs)
    if any(e.type in _BLOCKING for e in errs):
        if has_rules(schema):
            errs.append(FieldError("<nil>", INVALID, f'<nil>: Invalid value: "null": {_NOT_CHECKED}'))
        return errs
    failures: list[RuleFailure] = []
    check_rules(schema, obj, old_obj, "", failures)
    for f in failures:
        value = _OMIT if f.type in (REQUIRED, FORBIDDEN) else f.value
        errs.append(_error(f.type, f.path, value, f.detail))
    return errs


def compile_rules(schema: Mapping[str, Any], path: str = "openAPIV3Schema") -> list[str]:
    """Problems a real server reports when the CRD is created (so the emulator can answer 422 too).

    Each entry names the rule by its place in the schema, e.g.
    ``openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: ...: compilation failed: ...``.
    """
    return rule_problems(schema, path)
