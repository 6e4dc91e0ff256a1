"""The MLServer request B2 sends, and what B2 says when the peer environment is missing."""

from __future__ import annotations

from pathlib import Path

import orjson
from benchmarks.peers import mlserver_body, mlserver_missing


def test_body_is_one_v2_input_per_column_typed_by_value() -> None:
    rows = [{"age": 40.0, "purpose": "car"}, {"age": 31.0, "purpose": "repairs"}]
    assert orjson.loads(mlserver_body(rows)) == {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "age", "shape": [2], "datatype": "FP64", "data": [40.0, 31.0]},
            {"name": "purpose", "shape": [2], "datatype": "BYTES", "data": ["car", "repairs"]},
        ],
    }


def test_a_missing_environment_is_named_not_faked(tmp_path: Path) -> None:
    reason = mlserver_missing(tmp_path / ".venv-peers")
    assert reason is not None
    assert "make peers" in reason
    assert ".venv-peers" in reason
    (tmp_path / ".venv-peers" / "bin").mkdir(parents=True)
    (tmp_path / ".venv-peers" / "bin" / "mlserver").write_text("#!/bin/sh\n")
    assert mlserver_missing(tmp_path / ".venv-peers") is None
