"""CEL x-kubernetes-validations: the rules our CRDs use, transition rules, messages and the K8s library."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mloop.local.apiserver.cel import compile_expression
from mloop.local.apiserver.validation import (
    FieldError,
    apply_defaults_and_prune,
    compile_rules,
    validate_object,
)

METRICS = "['rmse','mae','r2','mape']"
STEPS_RULE = "self.map(s, s.weight).isSorted() && self.all(a, self.exists_one(b, b.weight == a.weight))"
FRACTIONS_FAILED = (
    'spec.data.split: Invalid value: "object": failed rule: self.validationFraction + self.testFraction < 1.0'
)
SPEC: dict[str, Any] = {
    "type": "object",
    "properties": {
        "problem": {
            "type": "object",
            "properties": {
                "task": {"type": "string"},
                "primaryMetric": {"type": "string"},
                "kpis": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "metric": {"type": "string"},
                            "min": {"type": "number"},
                            "max": {"type": "number"},
                        },
                        "x-kubernetes-validations": [{"rule": "has(self.min) != has(self.max)"}],
                    },
                },
            },
            "x-kubernetes-validations": [
                {
                    "rule": f"self.task == 'regression' ? self.primaryMetric in {METRICS} : "
                    f"!(self.primaryMetric in {METRICS})",
                    "message": "primaryMetric does not fit the task",
                }
            ],
        },
        "data": {
            "type": "object",
            "properties": {
                "timeColumn": {"type": "string"},
                "split": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "strategy": {"type": "string", "default": "random"},
                        "validationFraction": {"type": "number", "default": 0.2},
                        "testFraction": {"type": "number", "maximum": 1, "default": 0.2},
                    },
                    "x-kubernetes-validations": [
                        {"rule": "self.validationFraction + self.testFraction < 1.0"}
                    ],
                },
            },
            "x-kubernetes-validations": [
                {
                    "rule": "self.split.strategy != 'time' || has(self.timeColumn)",
                    "fieldPath": ".timeColumn",
                    "reason": "FieldValueRequired",
                    "message": "timeColumn is required for time splits",
                }
            ],
        },
        "model": {
            "type": "object",
            "properties": {"versionRef": {"type": "string"}, "alias": {"type": "string"}},
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.versionRef) != has(self.alias)",
                    "message": "exactly one of versionRef or alias must be set",
                }
            ],
        },
        "autoscaling": {
            "type": "object",
            "properties": {"minReplicas": {"type": "integer"}, "maxReplicas": {"type": "integer"}},
        },
        "canary": {
            "type": "object",
            "properties": {
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"weight": {"type": "integer"}, "pause": {"type": "string"}},
                    },
                    "x-kubernetes-validations": [
                        {
                            "rule": STEPS_RULE,
                            "messageExpression": "'canary weights must increase, got ' + "
                            "self.map(s, string(s.weight)).join(', ')",
                        }
                    ],
                }
            },
        },
        "window": {
            "type": "object",
            "properties": {"duration": {"type": "string"}, "minSamples": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "has(self.duration) || has(self.minSamples)"}],
        },
    },
    "x-kubernetes-validations": [
        {
            "rule": "!has(self.autoscaling) || self.autoscaling.minReplicas <= self.autoscaling.maxReplicas",
            "message": "minReplicas must not exceed maxReplicas",
            "fieldPath": ".autoscaling",
        }
    ],
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": SPEC,
        "frozen": {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "frozen is immutable"}],
        },
    },
}


def _check(spec: dict[str, Any]) -> list[FieldError]:
    """As the emulator does: default and prune, then validate."""
    return validate_object(SCHEMA, apply_defaults_and_prune(SCHEMA, {"spec": spec}), None)


RULE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    # id, passing spec, failing spec, failing path, failing message
    (
        "exactly-one-of",
        {"model": {"alias": "champion"}},
        {"model": {"alias": "champion", "versionRef": "v1"}},
        "spec.model",
        'spec.model: Invalid value: "object": exactly one of versionRef or alias must be set',
    ),
    (
        "exactly-one-of-none",
        {"model": {"versionRef": "v1"}},
        {"model": {}},
        "spec.model",
        'spec.model: Invalid value: "object": exactly one of versionRef or alias must be set',
    ),
    (
        "fractions-int-literals-are-doubles",
        {"data": {"split": {"validationFraction": 0, "testFraction": 0}}},
        {"data": {"split": {"validationFraction": 0, "testFraction": 1}}},
        "spec.data.split",
        FRACTIONS_FAILED,
    ),
    (
        "fractions",
        {"data": {"split": {"validationFraction": 0.2, "testFraction": 0.2}}},
        {"data": {"split": {"validationFraction": 0.5, "testFraction": 0.5}}},
        "spec.data.split",
        FRACTIONS_FAILED,
    ),
    (
        "kpi-min-xor-max",
        {"problem": {"task": "regression", "primaryMetric": "rmse", "kpis": [{"metric": "r2", "min": 0}]}},
        {"problem": {"task": "regression", "primaryMetric": "rmse", "kpis": [{"metric": "r2"}]}},
        "spec.problem.kpis[0]",
        'spec.problem.kpis[0]: Invalid value: "object": failed rule: has(self.min) != has(self.max)',
    ),
    (
        "canary-steps",
        {"canary": {"steps": [{"weight": 10}, {"weight": 50}, {"weight": 100}]}},
        {"canary": {"steps": [{"weight": 50}, {"weight": 10}]}},
        "spec.canary.steps",
        'spec.canary.steps: Invalid value: "array": canary weights must increase, got 50, 10',
    ),
    (
        "canary-steps-duplicate",
        {"canary": {"steps": [{"weight": 100}]}},
        {"canary": {"steps": [{"weight": 50}, {"weight": 50}]}},
        "spec.canary.steps",
        'spec.canary.steps: Invalid value: "array": canary weights must increase, got 50, 50',
    ),
    (
        "metric-fits-regression",
        {"problem": {"task": "regression", "primaryMetric": "mae"}},
        {"problem": {"task": "regression", "primaryMetric": "roc_auc"}},
        "spec.problem",
        'spec.problem: Invalid value: "object": primaryMetric does not fit the task',
    ),
    (
        "metric-fits-classification",
        {"problem": {"task": "binary-classification", "primaryMetric": "f1"}},
        {"problem": {"task": "binary-classification", "primaryMetric": "rmse"}},
        "spec.problem",
        'spec.problem: Invalid value: "object": primaryMetric does not fit the task',
    ),
    (
        "time-split-needs-column",
        {"data": {"timeColumn": "ts", "split": {"strategy": "time"}}},
        {"data": {"split": {"strategy": "time"}}},
        "spec.data.timeColumn",
        "spec.data.timeColumn: Required value: timeColumn is required for time splits",
    ),
    (
        "autoscaling",
        {"autoscaling": {"minReplicas": 1, "maxReplicas": 3}},
        {"autoscaling": {"minReplicas": 4, "maxReplicas": 3}},
        "spec.autoscaling",
        'spec.autoscaling: Invalid value: "object": minReplicas must not exceed maxReplicas',
    ),
    (
        "window",
        {"window": {"minSamples": 100}},
        {"window": {}},
        "spec.window",
        'spec.window: Invalid value: "object": failed rule: has(self.duration) || has(self.minSamples)',
    ),
]


@pytest.mark.parametrize(
    ("good", "bad", "path", "message"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_crd_rules_pass_and_fail(good: dict[str, Any], bad: dict[str, Any], path: str, message: str) -> None:
    assert _check(good) == []
    errors = _check(bad)
    assert [(e.path, e.message) for e in errors] == [(path, message)]


def test_reason_sets_the_error_type() -> None:
    [error] = _check({"data": {"split": {"strategy": "time"}}})
    assert error.type == "FieldValueRequired"
    [error] = _check({"window": {}})
    assert error.type == "FieldValueInvalid"


def test_transition_rule_only_on_update() -> None:
    assert validate_object(SCHEMA, {"frozen": {"a": "x"}}, None) == []
    assert validate_object(SCHEMA, {"frozen": {"a": "x"}}, {"frozen": {"a": "x"}}) == []
    assert validate_object(SCHEMA, {"frozen": {"a": "y"}}, {"frozen": {"a": "x"}}) == [
        FieldError("frozen", "FieldValueInvalid", 'frozen: Invalid value: "object": frozen is immutable')
    ]
    # the old object exists but had no value there: nothing to compare with
    assert validate_object(SCHEMA, {"frozen": {"a": "y"}}, {}) == []


def _list_schema(list_type: str) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "v": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.v >= oldSelf.v", "message": "v may not decrease"}],
    }
    extra = {"x-kubernetes-list-map-keys": ["name"]} if list_type == "map" else {}
    items = {"type": "array", "items": item, "x-kubernetes-list-type": list_type, **extra}
    return {"type": "object", "properties": {"items": items}}


def test_transition_rules_correlate_map_list_items_by_key() -> None:
    old = {"items": [{"name": "a", "v": 5}, {"name": "b", "v": 1}]}
    new = {"items": [{"name": "b", "v": 2}, {"name": "a", "v": 4}, {"name": "c", "v": 0}]}
    assert [e.path for e in validate_object(_list_schema("map"), new, old)] == ["items[1]"]
    assert validate_object(_list_schema("atomic"), new, old) == []  # atomic list items have no old value


def test_optional_old_self_runs_on_create() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "x-kubernetes-validations": [
            {
                "rule": "oldSelf.hasValue() ? self.n >= oldSelf.value().n : self.n == 0",
                "optionalOldSelf": True,
            }
        ],
    }
    assert validate_object(schema, {"n": 0}, None) == []
    assert len(validate_object(schema, {"n": 1}, None)) == 1
    assert validate_object(schema, {"n": 2}, {"n": 1}) == []
    assert len(validate_object(schema, {"n": 0}, {"n": 1})) == 1


def test_message_expression_falls_back_to_message_on_error() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.a > 1", "messageExpression": "'a is ' + string(self.a)"},
            {"rule": "self.a > 2", "messageExpression": "self.missing", "message": "static"},
            {"rule": "self.a > 3", "messageExpression": "'  '"},
        ],
    }
    assert [e.message for e in validate_object(schema, {"a": 1}, None)] == [
        '<nil>: Invalid value: "object": a is 1',
        '<nil>: Invalid value: "object": static',
        '<nil>: Invalid value: "object": failed rule: self.a > 3',
    ]


def test_runtime_error_is_reported_with_the_rule() -> None:
    schema = {
        "type": "object",
        "properties": {
            "o": {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": "self.a > 0"}],
            }
        },
    }
    assert validate_object(schema, {"o": {}}, None) == [
        FieldError(
            "o", "FieldValueInvalid", 'o: Invalid value: "object": no such key: a evaluating rule: self.a > 0'
        )
    ]


def test_rules_are_skipped_after_a_blocking_schema_error() -> None:
    errors = _check({"autoscaling": {"minReplicas": "many", "maxReplicas": 3}, "window": {}})
    assert [e.type for e in errors] == ["FieldValueTypeInvalid", "FieldValueInvalid"]
    assert errors[1].path == "<nil>"
    assert "some validation rules were not checked because the object was invalid" in errors[1].message


def test_non_blocking_schema_error_still_runs_rules() -> None:
    errors = _check({"data": {"split": {"validationFraction": 0.2, "testFraction": 1.5}}})
    assert [e.path for e in errors] == ["spec.data.split.testFraction", "spec.data.split"]


def test_rules_on_additional_properties_use_key_paths() -> None:
    schema = {
        "type": "object",
        "properties": {
            "m": {
                "type": "object",
                "additionalProperties": {
                    "type": "string",
                    "x-kubernetes-validations": [
                        {"rule": "self.size() < 3", "reason": "FieldValueForbidden"}
                    ],
                },
            }
        },
    }
    assert validate_object(schema, {"m": {"ok": "ab", "bad": "abcd"}}, None) == [
        FieldError("m[bad]", "FieldValueForbidden", "m[bad]: Forbidden: failed rule: self.size() < 3")
    ]


def test_int_or_string_and_timestamps_convert() -> None:
    schema = {
        "type": "object",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
        },
        "x-kubernetes-validations": [
            {"rule": "type(self.port) == int ? self.port > 0 : self.port.endsWith('%')"},
            {"rule": "self.start < self.end"},
        ],
    }
    assert (
        validate_object(
            schema, {"port": 80, "start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}, None
        )
        == []
    )
    assert (
        len(
            validate_object(
                schema, {"port": "x", "start": "2024-01-03T00:00:00Z", "end": "2024-01-02T00:00:00Z"}, None
            )
        )
        == 2
    )


LIBRARY = [
    "[1,2,3].isSorted() && !([3,1].isSorted()) && ['a','b'].isSorted()",
    "[1,2,3].sum() == 6 && [0.5, 0.25].sum() == 0.75 && [].sum() == 0",
    "[3,1,2].min() == 1 && [3,1,2].max() == 3",
    "[1,2,1].indexOf(1) == 0 && [1,2,1].lastIndexOf(1) == 2 && [1].indexOf(5) == -1",
    "'AbC'.lowerAscii() == 'abc' && 'abc'.upperAscii() == 'ABC' && '  x '.trim() == 'x'",
    "'a,b,c'.split(',') == ['a','b','c'] && 'a,b,c'.split(',', 2) == ['a', 'b,c']",
    "['a','b'].join('-') == 'a-b' && ['a','b'].join() == 'ab'",
    "'aXbX'.replace('X', '.') == 'a.b.' && 'aXbX'.replace('X', '.', 1) == 'a.bX'",
    "'hello'.indexOf('l') == 2 && 'hello'.lastIndexOf('l') == 3 && 'hello'.indexOf('l', 3) == 3",
    "'hello'.substring(1, 3) == 'el' && 'hello'.substring(3) == 'lo' && 'abc'.charAt(1) == 'b'",
    "'s3://b/k'.matches('^s3://') && 'abc'.startsWith('ab') && 'abc'.endsWith('bc') && 'abc'.contains('b')",
    "'abc'.size() == 3 && size([1,2]) == 2 && size({'a': 1}) == 1",
    "[1,2,3].all(x, x > 0) && [1,2,3].exists(x, x == 2) && [1,2,2].exists_one(x, x == 1)",
    "[1,2].map(x, x * 2) == [2,4] && [1,2,3].filter(x, x > 1) == [2,3]",
    "(true ? 1 : 2) == 1 && 'a' in ['a','b'] && 'k' in {'k': 1} && !('z' in {'k': 1})",
    "1 < 1.5 && 2.0 > 1 && 1 == 1.0 && 1 != 2.0 && 1 <= 1.0 && 2 >= 1.5",
    "self.items.map(i, i.n).sum() == 3 && self.items.exists(i, has(i.tag))",
]


@pytest.mark.parametrize("rule", LIBRARY)
def test_kubernetes_cel_library(rule: str) -> None:
    schema = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-validations": [{"rule": rule}],
    }
    assert validate_object(schema, {"items": [{"n": 1}, {"n": 2, "tag": "x"}]}, None) == []


def test_compile_rules_reports_compile_errors_and_bad_rule_settings() -> None:
    schema = copy.deepcopy(SCHEMA)
    assert compile_rules(schema) == []
    spec = schema["properties"]["spec"]
    spec["x-kubernetes-validations"] = [
        {"rule": "self.a =="},
        {"rule": "self.steps.isSort()"},
        {"rule": "true", "optionalOldSelf": True},
        {"rule": "true", "fieldPath": ".nope"},
        {"rule": "true", "reason": "FieldValueWrong"},
        {"rule": "true", "messageExpression": "'a' +"},
    ]
    spec["properties"]["canary"]["properties"]["steps"]["items"]["x-kubernetes-validations"] = [
        {"rule": "self == oldSelf"}
    ]
    problems = compile_rules(schema)
    base = "openAPIV3Schema.properties[spec]"
    assert problems[0].startswith(f'{base}.x-kubernetes-validations[0].rule: Invalid value: "self.a ==": ')
    assert "compilation failed: ERROR: <input>:1:" in problems[0]
    assert "undeclared reference to 'isSort'" in problems[1]
    assert problems[2].startswith(f"{base}.x-kubernetes-validations[2].optionalOldSelf")
    assert problems[3].startswith(f"{base}.x-kubernetes-validations[3].fieldPath")
    assert "does not refer to a valid field" in problems[3]
    assert problems[4].startswith(f"{base}.x-kubernetes-validations[4].reason: Unsupported value")
    assert problems[5].startswith(f"{base}.x-kubernetes-validations[5].messageExpression")
    assert "oldSelf cannot be used on the uncorrelatable portion" in problems[6]
    assert problems[6].startswith(
        f"{base}.properties[canary].properties[steps].items.x-kubernetes-validations[0].rule"
    )
    assert len(problems) == 7


def test_a_broken_rule_on_an_object_is_reported_not_raised() -> None:
    schema = {"type": "object", "x-kubernetes-validations": [{"rule": "self.a =="}]}
    [error] = validate_object(schema, {}, None)
    assert error.type == "FieldValueInvalid"
    assert "rule compile error: ERROR: <input>:1:" in error.message


def test_compiled_programs_are_cached_by_rule_text() -> None:
    before = compile_expression.cache_info()
    for _ in range(3):
        _check({"window": {"minSamples": 1}})
    after = compile_expression.cache_info()
    assert after.hits >= before.hits + 3
    assert compile_expression("self == oldSelf") is compile_expression("self == oldSelf")
