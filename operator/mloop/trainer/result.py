"""The run's result: stage records, failures with reasons, digests and the trimmed termination message.

``result.json`` is the contract with the operator (it becomes ``TrainingRun.status`` and the ModelVersion
spec), so it is built here as plain JSON-ready data, never as objects the operator would need our code to
read. The termination message is the same story in at most 4096 bytes: Kubernetes truncates anything longer,
which would leave invalid JSON, so we trim deliberately and always emit a parseable object.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mloop import __version__

__all__ = [
    "STAGES",
    "TERMINATION_LIMIT",
    "TRAINER_VERSION",
    "RunRecord",
    "TrainerFailure",
    "canonical_json",
    "config_digest",
    "json_safe",
    "termination_message",
]

TRAINER_VERSION = __version__
TERMINATION_LIMIT = 4096
#: Condition types, in the order the trainer runs them (SPEC §1 TrainingRun 1-7).
STAGES = ("DataLoaded", "DataValidated", "LeakageAudited", "Split", "Trained", "Evaluated", "Exported")


class TrainerFailure(Exception):
    """A run that cannot succeed for a reason a person can act on (bad data, a leak, a broken export).

    ``reason`` is CamelCase and goes straight into the TrainingRun's conditions; ``message`` says what to
    fix. Anything else that escapes a stage is an ``InternalError``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def json_safe(value: Any) -> Any:
    """Plain JSON types only: numpy scalars become Python numbers, NaN/Inf become None (JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item):
        return json_safe(item())
    return str(value)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace: the same data always hashes to the same digest."""
    return json.dumps(json_safe(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def config_digest(spec: Mapping[str, Any], seed: int) -> str:
    """SHA-256 of what decides the model besides the data: problem, data rules (not the source location,
    which the data digest covers), candidates, the effective seed and the trainer version. Storage,
    promotion, retraining, resources and descriptions are left out: changing them cannot change the model."""
    data = {k: v for k, v in dict(spec.get("data", {})).items() if k != "source"}
    parts = {
        "problem": spec.get("problem", {}),
        "data": data,
        "candidates": dict(spec.get("training", {})).get("candidates", []),
        "seed": seed,
        "trainerVersion": TRAINER_VERSION,
    }
    return hashlib.sha256(canonical_json(parts)).hexdigest()


@dataclass
class RunRecord:
    """Everything known about the run so far; a failed run still reports all of it."""

    started: float = field(default_factory=time.monotonic)
    body: dict[str, Any] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Time one stage and record it; the body may set ``reason``/``message``/``line`` in the dict it
        receives. A ``TrainerFailure`` marks the stage False with its reason and propagates."""
        info: dict[str, Any] = {"reason": name, "message": ""}
        begin = time.monotonic()
        try:
            yield info
        except TrainerFailure as exc:
            self._record(name, False, exc.reason, exc.message, begin)
            print(f"[{name}] FAILED {exc.reason}: {exc.message}", flush=True)
            raise
        except Exception as exc:
            self._record(name, False, "InternalError", f"{type(exc).__name__}: {exc}", begin)
            print(f"[{name}] FAILED InternalError: {type(exc).__name__}: {exc}", flush=True)
            raise
        self._record(name, True, str(info["reason"]), str(info["message"]), begin)
        print(f"[{name}] {info.get('line') or info['message']}", flush=True)

    def _record(self, name: str, ok: bool, reason: str, message: str, begin: float) -> None:
        self.stages.append(
            {
                "name": name,
                "status": "True" if ok else "False",
                "reason": reason,
                "message": message[:4000],
                "seconds": round(time.monotonic() - begin, 3),
            }
        )

    def finish(self, status: str, reason: str, message: str) -> dict[str, Any]:
        """The whole result, JSON-ready, with keys a reader expects even when a stage never ran."""
        out: dict[str, Any] = {
            "apiVersion": "mloop.io/v1alpha1",
            "kind": "TrainingResult",
            "status": status,
            "reason": reason,
            "message": message,
            "trainerVersion": TRAINER_VERSION,
            "stages": self.stages,
            "durationSeconds": round(time.monotonic() - self.started, 3),
        }
        defaults: dict[str, Any] = {
            "data": {},
            "profile": {},
            "leakage": {"flagged": []},
            "split": {},
            "trials": [],
            "best": {},
            "metrics": {},
            "slices": [],
            "fairness": {},
            "parity": {},
            "artifacts": {},
            "signature": {},
            "dataDigest": None,
            "configDigest": None,
        }
        for key, value in defaults.items():
            out[key] = self.body.get(key, value)
        for key, value in self.body.items():
            out.setdefault(key, value)
        return dict(json_safe(out))


def termination_message(result: Mapping[str, Any], limit: int = TERMINATION_LIMIT) -> str:
    """A compact summary for the Job's termination message, always valid JSON of at most ``limit`` bytes.

    Detail goes first: the artifacts other than the model, then the primary-metric block, then the message
    is shortened; status, reason and the two digests are kept to the end.
    """
    metrics = result.get("metrics") or {}
    primary = result.get("primaryMetric")
    best = result.get("best") or {}
    arts = result.get("artifacts") or {}
    summary: dict[str, Any] = {
        "status": result.get("status"),
        "reason": result.get("reason"),
        "message": str(result.get("message") or ""),
        "dataDigest": result.get("dataDigest"),
        "configDigest": result.get("configDigest"),
        "trainerVersion": result.get("trainerVersion"),
        "resultUri": result.get("resultUri"),
        "best": {"algorithm": best.get("algorithm"), "candidate": best.get("candidate")} if best else None,
        "primaryMetric": {
            "name": primary,
            "test": (metrics.get("test") or {}).get(primary),
            "baseline": (metrics.get("baseline") or {}).get(primary),
            "champion": (metrics.get("champion") or {}).get(primary),
        }
        if primary
        else None,
        "artifacts": {
            name: {"uri": ref.get("uri"), "sha256": ref.get("sha256")}
            for name, ref in arts.items()
            if isinstance(ref, Mapping)
        },
    }
    steps: list[Any] = [
        lambda s: s.update(artifacts={k: v for k, v in s["artifacts"].items() if k == "model"}),
        lambda s: s.update(message=s["message"][:1000]),
        lambda s: s.update(primaryMetric=None, best=None),
        lambda s: s.update(message=s["message"][:200], artifacts={}),
        lambda s: s.update(resultUri=None, trainerVersion=None),
        lambda s: s.update(message=s["message"][:40]),
    ]
    text = _dump(summary)
    for step in steps:
        if len(text.encode()) <= limit:
            return text
        step(summary)
        text = _dump(summary)
    if len(text.encode()) > limit:  # only if even the digests do not fit: keep the verdict
        text = _dump({"status": summary["status"], "reason": str(summary["reason"])[:100]})
    return text


def _dump(summary: Mapping[str, Any]) -> str:
    compact = {k: v for k, v in summary.items() if v not in (None, {}, "")}
    return json.dumps(json_safe(compact), separators=(",", ":"), ensure_ascii=False)
