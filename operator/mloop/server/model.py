"""The model layer: fetch ``model.onnx``, prove it is the expected file and plain ONNX, run it.

Refusal comes first and is cheap: the SHA-256 is checked before a single byte is parsed (a swapped or
corrupted file never reaches a parser), then the bytes must parse as an ONNX ``ModelProto`` (never pickle:
nothing here can unpickle), pass ``onnx.checker``, carry no external-data initializers and use only the
standard operator domains ("" / ``ai.onnx`` / ``ai.onnx.ml``), so no custom-op library is ever loaded.
Only then is an ONNX Runtime session built and a warm-up inference run; the server is ready after that.

The signature (the request contract) comes from the model itself so the server needs only the file: input
names, order and types from the graph, feature kinds, task and class order from the ``mloop.*`` metadata
the trainer writes. An optional signature JSON (``result.json``) may add ``nullable`` flags; it must agree
with the graph or the server refuses to start.

Unknown categories: categorical inputs go through the model's one-hot encoder, which the trainer fits with
``handle_unknown="ignore"``: an unseen category encodes as all zeros, so it is accepted, not an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from numpy.typing import NDArray

__all__ = [
    "ALLOWED_DOMAINS",
    "Feature",
    "ModelRejected",
    "OnnxModel",
    "Prediction",
    "Signature",
    "check_onnx",
    "fetch_model",
    "session_options",
]

ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(string)": "string"}
_NUMPY = {"float32": np.float32, "float64": np.float64}


class ModelRejected(Exception):
    """The model must not be served; ``reason`` is a CamelCase word for logs and conditions."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Feature:
    """One model input: ``dtype`` is float32/float64 (numeric, NaN = missing) or string ("" = missing)."""

    name: str
    dtype: str
    nullable: bool = True

    @property
    def numeric(self) -> bool:
        return self.dtype != "string"

    @property
    def kind(self) -> str:
        return "numeric" if self.numeric else "categorical"


@dataclass(frozen=True, slots=True)
class Signature:
    """What requests must look like and what the model answers, in the ModelVersion ``Signature`` shape."""

    task: str
    features: tuple[Feature, ...]
    classes: tuple[str, ...]
    outputs: tuple[tuple[str, str], ...]  # (name, ONNX type) in graph order

    @property
    def classifier(self) -> bool:
        return self.task != "regression"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "inputs": [
                {"name": f.name, "dtype": f.dtype, "kind": f.kind, "nullable": f.nullable}
                for f in self.features
            ],
            "outputs": [{"name": n, "dtype": t} for n, t in self.outputs],
            "classes": list(self.classes),
        }


@dataclass(frozen=True, slots=True)
class Prediction:
    """Model outputs for N rows: ``labels`` and ``probabilities`` [N, C] for classifiers, ``values`` [N]
    for regressors; ``score`` [N] is what the prediction histogram observes (positive-class probability for
    binary, top-class probability for multiclass, the value for regression)."""

    labels: NDArray[Any] | None
    probabilities: NDArray[np.float32] | None
    values: NDArray[np.float32] | None
    score: NDArray[np.float32]

    @property
    def predictions(self) -> NDArray[Any]:
        out = self.labels if self.labels is not None else self.values
        assert out is not None
        return out


def fetch_model(model: str, sha256: str) -> bytes:
    """The model bytes from S3 (``ArtifactStore``, which verifies the digest) or a local path, checked
    against ``sha256`` before anything parses them."""
    if model.startswith("s3://"):
        from mloop.artifacts import ArtifactError, ArtifactStore, ChecksumMismatch  # noqa: PLC0415

        try:
            return ArtifactStore.from_env().get_bytes(model, sha256)
        except ChecksumMismatch as exc:
            raise ModelRejected("ChecksumMismatch", exc.message) from exc
        except ArtifactError as exc:
            raise ModelRejected(exc.reason, exc.message) from exc
        except ValueError as exc:  # MLOOP_S3_* missing or malformed
            raise ModelRejected("StorageNotConfigured", str(exc)) from exc
    try:
        data = Path(model).read_bytes()
    except OSError as exc:
        raise ModelRejected("ModelNotFound", f"cannot read {model}: {exc.strerror or exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise ModelRejected("ChecksumMismatch", f"{model} has SHA-256 {actual}, expected {sha256.lower()}")
    return data


def check_onnx(data: bytes) -> onnx.ModelProto:
    """Parse and vet the bytes as plain, self-contained ONNX; raise ``ModelRejected`` otherwise."""
    if data[:1] == b"\x80" or data[:2] in (b"PK", b"\x1f\x8b"):
        raise ModelRejected("NotOnnx", "the file is a pickle or an archive, not an ONNX model")
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:
        raise ModelRejected("NotOnnx", f"not an ONNX model: {str(exc)[:300]}") from exc
    if not proto.graph.node or not proto.graph.input:
        raise ModelRejected("NotOnnx", "not an ONNX model: the graph has no nodes or no inputs")
    # Our own rules before the checker, so the reason names them (the checker would only say "invalid").
    bad = sorted({o.domain for o in proto.opset_import} - ALLOWED_DOMAINS)
    if bad or proto.functions:
        what = f"operator domains {bad}" if bad else "model-local functions"
        raise ModelRejected("CustomOperators", f"{what} are not allowed (only '', ai.onnx, ai.onnx.ml)")
    _check_graph(proto.graph)
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise ModelRejected("NotOnnx", f"invalid ONNX model: {str(exc)[:300]}") from exc
    return proto


def _check_graph(graph: onnx.GraphProto) -> None:
    for tensor in [*graph.initializer, *(s.values for s in graph.sparse_initializer)]:
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise ModelRejected(
                "ExternalData", f"initializer {tensor.name!r} refers to an external data file"
            )
    for node in graph.node:
        if node.domain not in ALLOWED_DOMAINS:
            raise ModelRejected("CustomOperators", f"node {node.name!r} uses operator domain {node.domain!r}")
        for attr in node.attribute:
            for sub in [attr.g, *attr.graphs] if attr.HasField("g") else attr.graphs:
                _check_graph(sub)


def session_options() -> ort.SessionOptions:
    """One thread, no spinning, sequential: a pod's CPU request is what it gets, and an idle replica burns
    nothing (spinning threads would show as CPU use and skew the HPA)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class OnnxModel:
    """An ONNX Runtime session with its signature. ``predict`` takes column arrays shaped [N, 1]."""

    def __init__(self, data: bytes, signature_doc: Mapping[str, Any] | None = None) -> None:
        proto = check_onnx(data)
        try:
            self.session = ort.InferenceSession(
                data, sess_options=session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelRejected("LoadFailed", f"onnxruntime cannot load the model: {str(exc)[:300]}") from exc
        meta = {p.key: p.value for p in proto.metadata_props}
        self.metadata = meta
        self.signature = _signature(self.session, meta, signature_doc)
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        sig = self.signature
        names = [n for n, _ in sig.outputs]
        if sig.classifier:
            if "label" in names and "probabilities" in names:
                self._outputs = ["label", "probabilities"]
            elif len(names) == 2:
                self._outputs = names
            else:
                raise ModelRejected(
                    "BadSignature", f"a classifier needs label and probabilities, got {names}"
                )
        else:
            self._outputs = ["variable"] if "variable" in names else names[:1]
        self._positive = 1 if len(sig.classes) == 2 else -1
        self._run = _bare_run(self.session)
        self.ready = False

    def predict(self, feeds: dict[str, NDArray[Any]]) -> Prediction:
        """Run the session on prepared columns (validated by the data plane) and shape the outputs."""
        out = self._run(self._outputs, feeds, None)
        if not self.signature.classifier:
            values = out[0].reshape(-1)
            if values.dtype != np.float32:
                values = values.astype(np.float32)
            return Prediction(None, None, values, values)
        labels, probs = out
        if labels.ndim != 1:
            labels = labels.reshape(-1)
        if probs.dtype != np.float32:
            probs = probs.astype(np.float32)
        score = probs[:, 1] if self._positive == 1 else probs.max(axis=1)
        return Prediction(labels, probs, None, score)

    def example_feeds(self, rows: int = 2) -> dict[str, NDArray[Any]]:
        """All-missing rows (NaN / ""): the imputers must cope, so this exercises the whole graph."""
        feeds: dict[str, NDArray[Any]] = {}
        for f in self.signature.features:
            if f.numeric:
                feeds[f.name] = np.full((rows, 1), np.nan, dtype=_NUMPY[f.dtype])
            else:
                feeds[f.name] = np.full((rows, 1), "", dtype=object)
        return feeds

    def warm_up(self) -> None:
        """One inference on all-missing rows; outputs must have the signature's shape and be finite."""
        try:
            result = self.predict(self.example_feeds(2))
        except Exception as exc:
            raise ModelRejected("WarmupFailed", f"warm-up inference failed: {str(exc)[:300]}") from exc
        n_classes = len(self.signature.classes)
        if result.probabilities is not None and result.probabilities.shape != (2, n_classes):
            shape = result.probabilities.shape
            raise ModelRejected(
                "WarmupFailed", f"probabilities have shape {shape}, expected (2, {n_classes})"
            )
        if result.predictions.shape != (2,) or not np.isfinite(result.score).all():
            raise ModelRejected("WarmupFailed", "warm-up outputs have the wrong shape or are not finite")
        self.ready = True


def _bare_run(session: ort.InferenceSession) -> Callable[..., list[NDArray[Any]]]:
    """The compiled session's ``run``, without ``InferenceSession.run``'s Python checks: ~2.7 µs a call
    (B2 profile). Those checks (every input present, no foreign ``OrtValue``, no WebGPU graph capture)
    hold by construction here: the validator builds every feed as a numpy array of the signature's
    inputs, on the CPU provider. ``session.run`` if a future onnxruntime drops the attribute."""
    compiled = getattr(session, "_sess", None)
    run = getattr(compiled, "run", None)
    if callable(run):
        return run  # type: ignore[no-any-return]
    return session.run  # type: ignore[no-any-return]


def _signature(
    session: ort.InferenceSession, meta: Mapping[str, str], doc: Mapping[str, Any] | None
) -> Signature:
    features: list[Feature] = []
    for inp in session.get_inputs():
        dtype = _DTYPES.get(inp.type)
        if dtype is None:
            raise ModelRejected("BadSignature", f"input {inp.name!r} has unsupported type {inp.type}")
        shape = list(inp.shape)
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] not in (1, None, "None")):
            raise ModelRejected("BadSignature", f"input {inp.name!r} must be [N, 1] or [N], got {shape}")
        features.append(Feature(inp.name, dtype))
    declared = _json_meta(meta, "mloop.features", [])
    if declared and [d.get("name") for d in declared] != [f.name for f in features]:
        raise ModelRejected("BadSignature", "mloop.features metadata disagrees with the graph inputs")
    for d, f in zip(declared, features, strict=False):
        if d.get("kind") not in (None, f.kind):
            raise ModelRejected(
                "BadSignature", f"feature {f.name!r} is {d.get('kind')} but the input is {f.dtype}"
            )
    outputs = tuple((o.name, str(o.type)) for o in session.get_outputs())
    names = [n for n, _ in outputs]
    task = meta.get("mloop.task") or ("regression" if len(names) == 1 else "classification")
    classes = tuple(str(c) for c in _json_meta(meta, "mloop.classes", []))
    if task != "regression" and not classes:
        probs = next((o for o in session.get_outputs() if o.name == "probabilities"), None)
        width = probs.shape[-1] if probs is not None and probs.shape else None
        if not isinstance(width, int):
            raise ModelRejected("BadSignature", "a classifier needs mloop.classes metadata or a fixed width")
        classes = tuple(str(i) for i in range(width))
    if task == "classification":
        task = "binary-classification" if len(classes) == 2 else "multiclass-classification"
    sig = Signature(task, tuple(features), classes, outputs)
    return _apply_document(sig, doc) if doc is not None else sig


def _json_meta(meta: Mapping[str, str], key: str, default: list[Any]) -> list[Any]:
    if key not in meta:
        return default
    try:
        value = json.loads(meta[key])
    except ValueError as exc:
        raise ModelRejected("BadSignature", f"metadata {key} is not JSON") from exc
    if not isinstance(value, list):
        raise ModelRejected("BadSignature", f"metadata {key} must be a JSON list")
    return value


def _apply_document(sig: Signature, doc: Mapping[str, Any]) -> Signature:
    """Merge a signature document (``result.json`` or its ``signature``): it may only add nullability."""
    body = doc.get("signature", doc)
    inputs = body.get("inputs") if isinstance(body, Mapping) else None
    if not isinstance(inputs, list) or [i.get("name") for i in inputs if isinstance(i, dict)] != list(
        sig.names
    ):
        raise ModelRejected("BadSignature", "the signature file's inputs differ from the model's inputs")
    features = []
    for item, feature in zip(inputs, sig.features, strict=True):
        if item.get("dtype") not in (None, feature.dtype):
            raise ModelRejected(
                "BadSignature", f"signature file says {feature.name!r} is {item.get('dtype')}"
            )
        features.append(replace(feature, nullable=bool(item.get("nullable", True))))
    classes = body.get("classes")
    if classes is not None and [str(c) for c in classes] != list(sig.classes):
        raise ModelRejected(
            "BadSignature", f"signature file classes {classes} differ from {list(sig.classes)}"
        )
    return replace(sig, features=tuple(features))
