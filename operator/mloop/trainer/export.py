"""Stage 7a (Exported): the whole fitted Pipeline as one ONNX graph, and proof that it predicts the same.

Inputs are one tensor per feature column, ``[None, 1]``: float32 for numeric features, string for
categorical ones (missing = ""), which is also the serving signature. Classifiers are exported with
``zipmap=False`` so the outputs are ``label`` and a ``probabilities`` tensor in class order; regressors
output ``variable``. The graph carries ``mloop.*`` metadata (task, classes, feature kinds) so a later run
can re-score this model as a champion without guessing.

Parity: ONNX computes in float32. Probabilities must agree within 1e-4 absolutely. Regression values
must agree within 1e-4 absolutely or, for values above 1 in magnitude, within 1e-4 relatively: float32
carries ~7 significant digits, so a value of 300 cannot be represented to 1e-4 in absolute terms.
``maxAbsDiff`` is always reported as measured.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from mloop.trainer.candidates import predict_output
from mloop.trainer.profile import MISSING_CATEGORY, FeatureSet
from mloop.trainer.result import TrainerFailure

__all__ = [
    "OPSET",
    "PARITY_TOLERANCE",
    "check_parity",
    "export_onnx",
    "opset_of",
    "run_onnx",
    "score_champion",
    "signature",
]

OPSET = 17
ML_OPSET = 3
PARITY_TOLERANCE = 1e-4


def export_onnx(
    pipeline: Pipeline, features: FeatureSet, task: str, classes: list[Any], extra: dict[str, str]
) -> bytes:
    """Convert the fitted Pipeline (preprocessing included) to ONNX bytes."""
    inputs = [
        (c, StringTensorType([None, 1]) if c in features.categorical else FloatTensorType([None, 1]))
        for c in features.columns
    ]
    options = None if task == "regression" else {id(pipeline.steps[-1][1]): {"zipmap": False}}
    try:
        with warnings.catch_warnings():
            # skl2onnx passes booleans where onnx now wants ints: harmless, and noise in every run's log
            warnings.simplefilter("ignore", DeprecationWarning)
            model = convert_sklearn(
                pipeline,
                initial_types=inputs,
                target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
                options=options,
            )
    except Exception as exc:
        raise TrainerFailure("ExportFailed", f"skl2onnx could not convert the Pipeline: {exc}") from exc
    _restore_input_names(model, list(features.columns))
    meta = {
        "mloop.task": task,
        "mloop.classes": json.dumps([_jsonable(c) for c in classes]),
        "mloop.features": json.dumps([{"name": c, "kind": features.kind(c)} for c in features.columns]),
        **extra,
    }
    for key, value in sorted(meta.items()):
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    model.producer_name = "mloop.trainer"
    model.graph.name = "mloop"  # skl2onnx names the graph with a random UUID: same run, same bytes

    return bytes(model.SerializeToString())


def _restore_input_names(model: onnx.ModelProto, columns: list[str]) -> None:
    """skl2onnx sanitises input names ("mean radius" becomes "mean_radius"); the serving signature,
    the reference sample and a later champion re-scoring all use the column names, so put them back.
    Inputs come out in the order they were declared, which is the column order."""
    graph = model.graph
    renames = {inp.name: col for inp, col in zip(graph.input, columns, strict=True) if inp.name != col}
    if not renames:
        return
    taken = {n for node in graph.node for n in (*node.input, *node.output)} - set(renames)
    clash = sorted(set(renames.values()) & taken)
    if clash:
        raise TrainerFailure("ExportFailed", f"column names clash with ONNX graph names: {clash}")
    for inp in graph.input:
        inp.name = renames.get(inp.name, inp.name)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]


def _jsonable(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _session(model: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def _feeds(session: ort.InferenceSession, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    feeds: dict[str, np.ndarray] = {}
    for inp in session.get_inputs():
        column = frame[inp.name]
        if inp.type == "tensor(string)":
            values = [MISSING_CATEGORY if _missing(v) else str(v) for v in column]
            feeds[inp.name] = np.array(values, dtype=object).reshape(-1, 1)
        elif inp.type in ("tensor(float)", "tensor(double)"):
            dtype = np.float32 if inp.type == "tensor(float)" else np.float64
            numeric = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            feeds[inp.name] = numeric.astype(dtype).reshape(-1, 1)
        elif inp.type == "tensor(int64)":
            feeds[inp.name] = column.to_numpy(dtype=np.int64).reshape(-1, 1)
        else:
            raise ValueError(f"input {inp.name!r} has unsupported type {inp.type}")
    return feeds


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def run_onnx(model: bytes, frame: pd.DataFrame, task: str) -> np.ndarray:
    """Probabilities (classifiers) or values (regressors) from an ONNX model on a frame."""
    session = _session(model)
    outputs = session.run(None, _feeds(session, frame))
    names = [o.name for o in session.get_outputs()]
    if task == "regression":
        return np.asarray(outputs[0], dtype=np.float64).ravel()
    index = names.index("probabilities") if "probabilities" in names else len(outputs) - 1
    return np.asarray(outputs[index], dtype=np.float64)


def check_parity(model: bytes, pipeline: Pipeline, frame: pd.DataFrame, task: str) -> dict[str, Any]:
    """Compare ONNX with sklearn on ``frame`` (the test rows); fail the run beyond the tolerance."""
    expected = predict_output(pipeline, frame, task)
    actual = run_onnx(model, frame, task)
    if actual.shape != expected.shape:
        raise TrainerFailure(
            "ExportParityFailed", f"ONNX output shape {actual.shape} differs from sklearn's {expected.shape}"
        )
    diff = np.abs(actual - expected)
    max_abs = float(diff.max()) if diff.size else 0.0
    scaled = float((diff / np.maximum(1.0, np.abs(expected))).max()) if diff.size else 0.0
    judged = scaled if task == "regression" else max_abs
    result = {
        "maxAbsDiff": max_abs,
        "maxScaledDiff": scaled,
        "tolerance": PARITY_TOLERANCE,
        "rows": len(frame),
        "passed": judged <= PARITY_TOLERANCE,
    }
    if not result["passed"]:
        raise TrainerFailure(
            "ExportParityFailed",
            f"ONNX and sklearn differ by up to {max_abs:.3g} on {len(frame)} test rows "
            f"(tolerance {PARITY_TOLERANCE})",
        )
    return result


def score_champion(
    model: bytes, frame: pd.DataFrame, task: str, classes: list[Any]
) -> tuple[np.ndarray | None, str | None]:
    """The champion's output on the same test rows, or None and why it cannot be compared like for like."""
    try:
        session = _session(model)
    except Exception as exc:  # noqa: BLE001 - any load error means "not comparable", not a failed run
        return None, f"champion model cannot be loaded by onnxruntime: {exc}"
    missing = [i.name for i in session.get_inputs() if i.name not in frame.columns]
    if missing:
        return None, f"champion needs inputs absent from the test rows: {missing}"
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("mloop.task", task) != task:
        return None, f"champion was trained for {meta['mloop.task']}, this run is {task}"
    if task != "regression" and "mloop.classes" in meta:
        theirs = json.loads(meta["mloop.classes"])
        if [str(c) for c in theirs] != [str(c) for c in classes]:
            return None, f"champion classes {theirs} differ from this run's {classes}"
    try:
        output = run_onnx(model, frame, task)
    except Exception as exc:  # noqa: BLE001 - same: the gate needs the reason, the run goes on
        return None, f"champion failed to score the test rows: {exc}"
    if task != "regression" and (output.ndim != 2 or output.shape[1] != len(classes)):
        return None, f"champion outputs {output.shape[-1]} class probabilities, expected {len(classes)}"
    return output, None


def signature(features: FeatureSet, task: str, classes: list[Any]) -> dict[str, Any]:
    """The model's interface in the ModelVersion ``Signature`` shape (inputs in column order)."""
    inputs = [
        {
            "name": c,
            "dtype": "string" if c in features.categorical else "float32",
            "kind": features.kind(c),
            "nullable": True,
        }
        for c in features.columns
    ]
    if task == "regression":
        outputs = [{"name": "variable", "dtype": "float32"}]
    else:
        label = "int64" if all(isinstance(_jsonable(c), int) for c in classes) else "string"
        outputs = [{"name": "label", "dtype": label}, {"name": "probabilities", "dtype": "float32"}]
    return {"inputs": inputs, "outputs": outputs, "classes": [str(_jsonable(c)) for c in classes]}


def opset_of(model: bytes) -> int:
    """The default-domain opset the graph targets (``Artifact.opset``)."""
    parsed = onnx.load_model_from_string(model)
    return next((int(o.version) for o in parsed.opset_import if o.domain in ("", "ai.onnx")), OPSET)
