"""CEL engine for CRD ``x-kubernetes-validations``: compile cache, schema-typed values, Kubernetes library.

Built on ``cel-python`` (pure Python, already a dependency). Kubernetes evaluates rules with cel-go plus its
own library (lists, strings, regex) and cross-type numeric comparisons; the pieces our CRDs rely on are added
here as functions, so rules behave as on a real API server.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import itertools
import json
import operator
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
import celpy.adapter
import lark
from celpy import celtypes as ct
from celpy.evaluation import CELEvalError, base_functions

# Internal to the emulator: validation.py is the public surface (names without _ are what it uses).


class CelCompileError(Exception):
    """A rule that cannot be compiled (syntax error or unknown function): the CRD must be refused."""


class CelRuntimeError(Exception):
    """A rule that failed while evaluating (no such key, overload, division by zero ...)."""


@dataclass(frozen=True)
class CompiledExpression:
    """A compiled program plus what the validator needs to know about it without evaluating it."""

    text: str
    program: Any
    uses_old_self: bool


class OptionalValue:
    """CEL ``optional`` for ``oldSelf`` under ``optionalOldSelf: true`` (hasValue/value/orValue)."""

    def __init__(self, value: Any) -> None:
        self.value = value


_NUMBERS = (ct.IntType, ct.UintType, ct.DoubleType)


def _cmp(op: str) -> Callable[[Any, Any], Any]:
    """Cross-type numeric comparisons (``1 < 1.5``), which Kubernetes enables in its CEL environment."""
    base = base_functions[op]

    def compare(a: Any, b: Any) -> Any:
        if isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS) and type(a) is not type(b):
            x, y = float(a), float(b)
            result = {"_<_": x < y, "_<=_": x <= y, "_>_": x > y, "_>=_": x >= y, "_==_": x == y}.get(op)
            return ct.BoolType(x != y if result is None else result)
        return base(a, b)

    return compare


def _fail(message: str) -> CELEvalError:
    return CELEvalError(message, ValueError, (message,))


def _extreme(pick: Callable[..., Any], name: str) -> Callable[..., Any]:
    def extreme(*args: Any) -> Any:
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        return pick(items) if len(items) else _fail(f"{name} called on an empty list")

    return extreme


def _index_of(value: Any, needle: Any, offset: Any = 0) -> Any:
    if isinstance(value, str):
        if not 0 <= offset <= len(value):
            return _fail(f"index out of range: {offset}")
        return ct.IntType(value.find(needle, int(offset)))
    return ct.IntType(next((i for i, v in enumerate(value) if v == needle), -1))


def _last_index_of(value: Any, needle: Any, offset: Any = None) -> Any:
    if isinstance(value, str):
        end = len(value) if offset is None else int(offset) + len(needle)
        return ct.IntType(value.rfind(needle, 0, end))
    return ct.IntType(next((i for i in range(len(value) - 1, -1, -1) if value[i] == needle), -1))


def _ascii(upper: bool) -> Callable[[Any], Any]:
    """Only A-Z/a-z change, as in Kubernetes' lowerAscii/upperAscii (no Unicode case folding)."""
    table = {c + 32: c for c in range(65, 91)} if upper else {c: c + 32 for c in range(65, 91)}
    return lambda s: ct.StringType(str(s).translate(table))


def _split(s: Any, sep: Any, limit: Any = -1) -> Any:
    n = int(limit)
    if n == 0:
        return ct.ListType([])
    parts = list(s) if sep == "" else str(s).split(str(sep))
    if 0 < n < len(parts):
        parts = [*parts[: n - 1], str(sep).join(parts[n - 1 :])]
    return ct.ListType([ct.StringType(p) for p in parts])


def _substring(s: Any, start: Any, end: Any = None) -> Any:
    stop = len(s) if end is None else int(end)
    if not 0 <= int(start) <= stop <= len(s):
        return _fail(f"index out of range: {start}, {stop}")
    return ct.StringType(str(s)[int(start) : stop])


_LIBRARY: dict[str, Callable[..., Any]] = {
    **{op: _cmp(op) for op in ("_<_", "_<=_", "_>_", "_>=_", "_==_", "_!=_")},
    "isSorted": lambda xs: ct.BoolType(all(a <= b for a, b in itertools.pairwise(xs))),
    "sum": lambda xs: functools.reduce(operator.add, xs) if len(xs) else ct.IntType(0),
    "min": _extreme(min, "min"),
    "max": _extreme(max, "max"),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": _ascii(upper=False),
    "upperAscii": _ascii(upper=True),
    "trim": lambda s: ct.StringType(str(s).strip()),
    "split": _split,
    "join": lambda items, sep="": ct.StringType(str(sep).join(str(i) for i in items)),
    "replace": lambda s, old, new, n=-1: ct.StringType(str(s).replace(str(old), str(new), int(n))),
    "substring": _substring,
    "charAt": lambda s, i: ct.StringType(str(s)[int(i) : int(i) + 1]),
    "reverse": lambda s: ct.StringType(str(s)[::-1]),
    "hasValue": lambda o: ct.BoolType(isinstance(o, OptionalValue) and o.value is not None),
    "value": lambda o: (
        o.value if getattr(o, "value", None) is not None else _fail("optional.none() dereference")
    ),
    "orValue": lambda o, d: o.value if isinstance(o, OptionalValue) and o.value is not None else d,
}
_MACROS = frozenset({"has", "dyn", "all", "exists", "exists_one", "map", "filter"})
_KNOWN_FUNCTIONS = frozenset(base_functions) | frozenset(_LIBRARY) | _MACROS
_ENV = celpy.Environment()
_LOCK = threading.Lock()


def _called_functions(tree: lark.Tree[Any]) -> list[lark.Token]:
    """Function names in a parse tree: ``f(x)`` is ``ident_arg``, ``x.f(y)`` is ``member_dot_arg``."""
    names: list[lark.Token] = []
    for node in tree.iter_subtrees():
        if node.data in ("ident_arg", "member_dot_arg"):
            token = node.children[0 if node.data == "ident_arg" else 1]
            if isinstance(token, lark.Token):
                names.append(token)
    return sorted(names, key=lambda t: (t.line or 0, t.column or 0))


def _uses_old_self(tree: lark.Tree[Any]) -> bool:
    return any(
        n.data == "ident" and n.children and str(n.children[0]) == "oldSelf" for n in tree.iter_subtrees()
    )


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> CompiledExpression:
    """Parse once per distinct rule text (cached: the emulator validates many objects with few rules)."""
    with _LOCK:
        try:
            tree = _ENV.compile(text)
        except Exception as exc:  # celpy raises lark- and parser-specific errors
            where = f"{getattr(exc, 'line', 1)}:{getattr(exc, 'column', 1)}"
            raise CelCompileError(f"ERROR: <input>:{where}: Syntax error: unexpected input") from exc
        for token in _called_functions(tree):
            if str(token) not in _KNOWN_FUNCTIONS:
                where = f"{token.line}:{token.column}"
                raise CelCompileError(
                    f"ERROR: <input>:{where}: undeclared reference to '{token}' (in container '')"
                )
        program = _ENV.program(tree, functions=_LIBRARY)
    return CompiledExpression(text=text, program=program, uses_old_self=_uses_old_self(tree))


def _runtime_message(exc: CELEvalError) -> str:
    """Kubernetes-like wording for cel-python's runtime errors."""
    text = str(exc.args[0]) if exc.args else str(exc)
    if m := re.match(r"no such member in mapping: '(.*)'", text):
        return f"no such key: {m.group(1)}"
    if text.startswith("found no matching overload") or "undeclared reference" in text:
        return "no such overload"
    if "divide by zero" in text:
        return "division by zero"
    return text


def evaluate(compiled: CompiledExpression, activation: Mapping[str, Any]) -> Any:
    """Evaluate a compiled expression; a CEL error (raised or returned) becomes CelRuntimeError."""
    try:
        result = compiled.program.evaluate(dict(activation))
    except CELEvalError as exc:
        raise CelRuntimeError(_runtime_message(exc)) from exc
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError, re.error) as exc:
        raise CelRuntimeError(str(exc)) from exc
    if isinstance(result, CELEvalError):
        raise CelRuntimeError(_runtime_message(result))
    return result


def _string_to_cel(value: str, fmt: str | None) -> Any:
    """Strings with a ``format`` get the CEL type Kubernetes gives them (timestamp, duration, bytes)."""
    try:
        if fmt == "date-time":
            return ct.TimestampType(value)
        if fmt == "duration":
            return ct.DurationType(value)
        if fmt == "byte":
            return ct.BytesType(base64.b64decode(value, validate=True))
    except (ValueError, TypeError, binascii.Error):
        pass
    return ct.StringType(value)


def to_cel(value: Any, schema: Mapping[str, Any]) -> Any:
    """Convert a JSON value to CEL by its schema: number is always double, integer int, objects maps."""
    if value is None:
        return None
    kind = schema.get("type")
    if isinstance(value, bool):
        return ct.BoolType(value)
    if kind == "number" and isinstance(value, int | float):
        return ct.DoubleType(float(value))
    if isinstance(value, int) or (kind == "integer" and isinstance(value, float) and value.is_integer()):
        return ct.IntType(int(value))
    if isinstance(value, float):
        return ct.DoubleType(value)
    if isinstance(value, str):
        return _string_to_cel(value, schema.get("format") if kind == "string" else None)
    if isinstance(value, list):
        items = schema.get("items")
        return ct.ListType([to_cel(v, items if isinstance(items, Mapping) else {}) for v in value])
    if isinstance(value, Mapping):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, Mapping) else {}
        return ct.MapType({ct.StringType(k): to_cel(v, props.get(k, extra)) for k, v in value.items()})
    return celpy.adapter.json_to_cel(value)


def is_true(value: Any) -> bool:
    """A rule passes only on CEL ``true`` (an int 1 is not a bool)."""
    return isinstance(value, ct.BoolType) and bool(value)


# ---------------------------------------------------------------- rules over a schema tree


@dataclass(frozen=True)
class RuleFailure:
    """A failed or broken rule, in ``field.Error`` terms; validation.py renders the message."""

    path: str
    type: str
    value: Any
    detail: str


_RULES = "x-kubernetes-validations"
_REASONS = ("FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate")
_FIELD_TOKEN = re.compile(r"\.([^.\[\]]+)|\['((?:[^'\\]|\\.)*)'\]")


def _sub(schema: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = schema.get(key)
    return value if isinstance(value, Mapping) else None


def resolve_field_path(field_path: str, schema: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """Parse a rule's ``fieldPath`` (``.a.b``, ``['x']``) against the schema: (name, is-map-key) steps."""
    steps: list[tuple[str, bool]] = []
    pos, node = 0, schema
    while pos < len(field_path):
        m = _FIELD_TOKEN.match(field_path, pos)
        if not m:
            raise ValueError(f"expected [ or . but got: {field_path[pos:]}")
        name = m.group(1) if m.group(1) is not None else re.sub(r"\\(.)", r"\1", m.group(2))
        props = node.get("properties")
        if isinstance(props, Mapping) and name in props:
            node, is_key = props[name], False
        elif (extra := _sub(node, "additionalProperties")) is not None:
            node, is_key = extra, True
        else:
            raise ValueError("does not refer to a valid field")
        steps.append((name, is_key))
        pos = m.end()
    return steps


def _join(path: str, steps: list[tuple[str, bool]]) -> str:
    for name, is_key in steps:
        path = f"{path}[{name}]" if is_key else (f"{path}.{name}" if path else name)
    return path


def _rule_string(rule: Mapping[str, Any]) -> str:
    return str(rule.get("message") or "").strip() or str(rule.get("rule", "")).strip()


def _message(rule: Mapping[str, Any], activation: Mapping[str, Any]) -> str:
    """messageExpression result, else message, else ``failed rule: <rule>`` (kube-apiserver's fallbacks)."""
    if expr := rule.get("messageExpression"):
        try:
            text = evaluate(compile_expression(str(expr)), activation)
        except (CelCompileError, CelRuntimeError):
            text = None
        if isinstance(text, str) and text.strip() and "\n" not in text.strip():
            return text.strip()
    return str(rule.get("message") or "").strip() or f"failed rule: {_rule_string(rule)}"


def _run_rules(schema: Mapping[str, Any], value: Any, old: Any, path: str, out: list[RuleFailure]) -> None:
    kind = str(schema.get("type", ""))
    self_value = to_cel(value, schema)
    old_value = to_cel(old, schema)
    for rule in schema.get(_RULES) or []:
        text = str(rule.get("rule", ""))
        if not text.strip():
            continue
        try:
            compiled = compile_expression(text)
        except CelCompileError as exc:
            out.append(RuleFailure(path, "FieldValueInvalid", kind, f"rule compile error: {exc}"))
            continue
        optional = bool(rule.get("optionalOldSelf"))
        if compiled.uses_old_self and old is None and not optional:
            continue  # transition rules need an old value (an update, and a correlatable one)
        activation: dict[str, Any] = {"self": self_value}
        if old is not None:
            activation["oldSelf"] = old_value
        try:
            passed = is_true(
                evaluate(
                    compiled, {**activation, "oldSelf": OptionalValue(old_value)} if optional else activation
                )
            )
        except CelRuntimeError as exc:
            if str(exc) == "no such overload":
                detail = (
                    "'no such overload': call arguments did not match a supported operator, function or "
                    f"macro signature for rule: {_rule_string(rule)}"
                )
            else:
                detail = f"{exc} evaluating rule: {_rule_string(rule)}"
            out.append(RuleFailure(path, "FieldValueInvalid", kind, detail))
            continue
        if passed:
            continue
        where = path
        if rule.get("fieldPath"):
            with contextlib.suppress(ValueError):
                where = _join(path, resolve_field_path(str(rule["fieldPath"]), schema))
        reason = rule.get("reason") if rule.get("reason") in _REASONS else "FieldValueInvalid"
        detail = "" if reason == "FieldValueDuplicate" else _message(rule, activation)
        out.append(RuleFailure(where, str(reason), kind, detail))


def check_rules(schema: Mapping[str, Any], value: Any, old: Any, path: str, out: list[RuleFailure]) -> None:
    """Evaluate every node's rules with ``self``/``oldSelf``; old values follow Kubernetes' correlation.

    Object fields correlate by name, map-lists by their keys; items of other lists have no old value.
    """
    if value is None:
        return
    if schema.get(_RULES):
        _run_rules(schema, value, old, path, out)
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        extra = _sub(schema, "additionalProperties")
        old_map = old if isinstance(old, dict) else {}
        for key, item in value.items():
            if key in props:
                check_rules(props[key], item, old_map.get(key), f"{path}.{key}" if path else key, out)
            elif extra is not None:
                check_rules(extra, item, old_map.get(key), f"{path}[{key}]", out)
    elif isinstance(value, list) and (items := _sub(schema, "items")) is not None:
        keys = list(schema.get("x-kubernetes-list-map-keys") or [])
        by_key: dict[str, Any] = {}
        if schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            by_key = {_map_key(o, keys): o for o in old if isinstance(o, dict)}
        for i, item in enumerate(value):
            old_item = by_key.get(_map_key(item, keys)) if by_key and isinstance(item, dict) else None
            check_rules(items, item, old_item, f"{path}[{i}]", out)


def _map_key(item: Mapping[str, Any], keys: list[str]) -> str:
    return json.dumps([item.get(k) for k in keys])


def has_rules(schema: Mapping[str, Any]) -> bool:
    """Whether any node of the schema carries CEL rules."""
    if schema.get(_RULES):
        return True
    children = [
        *(schema.get("properties") or {}).values(),
        _sub(schema, "items"),
        _sub(schema, "additionalProperties"),
    ]
    return any(has_rules(c) for c in children if isinstance(c, Mapping))


def rule_problems(schema: Mapping[str, Any], path: str, correlatable: bool = True) -> list[str]:
    """What kube-apiserver refuses in CRD rules: compile errors, bad fieldPath/reason, misplaced oldSelf."""
    problems: list[str] = []
    for i, rule in enumerate(schema.get(_RULES) or []):
        where = f"{path}.{_RULES}[{i}]"
        text = str(rule.get("rule", ""))
        try:
            compiled = compile_expression(text)
        except CelCompileError as exc:
            problems.append(f"{where}.rule: Invalid value: {json.dumps(text)}: compilation failed: {exc}")
            continue
        if compiled.uses_old_self and not correlatable:
            problems.append(
                f"{where}.rule: Invalid value: {json.dumps(text)}: oldSelf cannot be used on the "
                f"uncorrelatable portion of the schema within {path}"
            )
        if rule.get("optionalOldSelf") and not compiled.uses_old_self:
            problems.append(
                f"{where}.optionalOldSelf: Invalid value: true: may not be set if rule does not use oldSelf"
            )
        if expr := rule.get("messageExpression"):
            try:
                compile_expression(str(expr))
            except CelCompileError as exc:
                problems.append(
                    f"{where}.messageExpression: Invalid value: {json.dumps(expr)}: "
                    f"messageExpression compilation failed: {exc}"
                )
        if "\n" in str(rule.get("message", "")):
            problems.append(
                f"{where}.message: Invalid value: {json.dumps(rule['message'])}: "
                "message must not contain line breaks"
            )
        elif "\n" in text.strip() and not rule.get("message"):
            problems.append(
                f"{where}.message: Required value: message must be specified if rule contains line breaks"
            )
        if "reason" in rule and rule["reason"] not in _REASONS:
            allowed = ", ".join(json.dumps(r) for r in _REASONS)
            problems.append(
                f"{where}.reason: Unsupported value: {json.dumps(rule['reason'])}: "
                f"supported values: {allowed}"
            )
        if rule.get("fieldPath"):
            try:
                resolve_field_path(str(rule["fieldPath"]), schema)
            except ValueError as exc:
                problems.append(
                    f"{where}.fieldPath: Invalid value: {json.dumps(rule['fieldPath'])}: "
                    f"fieldPath must be a valid path: {exc}"
                )
    for key, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, Mapping):
            problems.extend(rule_problems(prop, f"{path}.properties[{key}]", correlatable))
    if (items := _sub(schema, "items")) is not None:
        problems.extend(
            rule_problems(
                items, f"{path}.items", correlatable and schema.get("x-kubernetes-list-type") == "map"
            )
        )
    if (extra := _sub(schema, "additionalProperties")) is not None:
        problems.extend(rule_problems(extra, f"{path}.additionalProperties", correlatable))
    return problems
