"""Training on served traffic: the request log joined with feedback labels becomes rows of the project's data.

The logs are written by the prediction server's own ``TrafficLog`` (into a directory standing in for the
bucket), so the reader is tested against the writer, not against a copy of the layout.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mloop.api.mlproject import MLProjectSpec
from mloop.reconcile.results import to_provenance
from mloop.server.metrics import PROBABILITY_BUCKETS, ServerMetrics
from mloop.server.model import Prediction
from mloop.server.trafficlog import TrafficLog
from mloop.server.validation import Batch
from mloop.trainer.feedback import FeedbackConfig, LabelledRow, join, load_feedback, to_frame
from mloop.trainer.io import Inputs
from tests.trainer.support import binary_frame, project, run

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FEATURES = ["f0", "f1", "f2", "f3", "f4", "f5", "region"]


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def line(rid: str, at: float, row: int = 0, **features: Any) -> dict[str, Any]:
    return {"ts": ts(at), "requestId": rid, "row": row, "features": features or {"x": 1.0}}


def label(rid: str, at: float, value: Any, row: int = 0) -> dict[str, Any]:
    return {"ts": ts(at), "requestId": rid, "row": row, "label": value}


def spec(**data: Any) -> MLProjectSpec:
    return MLProjectSpec.model_validate(project("binary-classification", "label", "roc_auc", **data)["spec"])


class DirStore:
    """Just enough of a bucket on disk for the server's TrafficLog: ``s3://b/key`` → ``<root>/b/key``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put_bytes(self, uri: str, data: bytes, content_type: str = "", *, unique_key: bool = False) -> object:
        path = self.root / uri.removeprefix("s3://")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


def write_logs(
    root: Path, rows: pd.DataFrame, labelled: dict[int, Any], version: str = "demo-1", offset: float = 0.0
) -> None:
    """One request per row at T0 + offset + i seconds; ``labelled`` maps a row index to its label."""
    metrics = ServerMetrics("demo", version, "stable", buckets=PROBABILITY_BUCKETS, classes=["0", "1"])
    log = TrafficLog(
        DirStore(root), "s3://b/ns/demo/traffic/", deployment="dep", model="demo", version=version,
        role="stable", names=FEATURES, classes=["0", "1"], metrics=metrics,
    )  # fmt: skip
    start = T0.timestamp() + offset
    for i, record in enumerate(rows[FEATURES].to_dict("records")):
        clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()}
        prediction = Prediction(
            np.array([0]), np.array([[0.6, 0.4]], np.float32), None, np.array([0.4], np.float32)
        )
        log.add_prediction(start + i, f"r{i}", Batch(1, {}, [clean]), prediction)
    for i, value in labelled.items():
        log.add_feedback(start + len(rows) + i, f"r{i}", [(0, value)])
    log.flush()


def test_join_dedupes_requests_keeps_the_latest_label_and_drops_unlabelled() -> None:
    traffic = [
        line("a", 1),
        line("a", 1),  # the same line written twice (a retried flush): counted once
        line("b", 2, row=0),
        line("b", 2, row=1, x=2.0),  # a two-row request: rows are joined separately
        line("c", 3),  # never labelled
        {"ts": "not a time", "requestId": "d", "features": {}},
        {"requestId": "e"},
    ]
    labels = [
        label("a", 10, 0),
        label("a", 20, 1),
        label("a", 15, 0),
        label("b", 11, 1, row=1),
        label("z", 5, 1),
    ]
    counts: Counter[str] = Counter()
    rows = join(traffic, labels, counts=counts)
    assert [(r.request_id, r.row, r.label) for r in rows] == [("a", 0, 1), ("b", 1, 1)]
    assert rows[1].features == {"x": 2.0}
    assert counts["requests"] == 4
    assert counts["duplicates"] == 1
    assert counts["unlabelled"] == 2  # b row 0 and c
    assert counts["labelsWithoutRequest"] == 1  # z
    assert counts["skippedLines"] == 2


def test_since_and_until_bound_requests_and_labels() -> None:
    traffic = [line("old", 1), line("a", 100), line("late", 500)]
    labels = [label("old", 150, 1), label("a", 200, 0), label("a", 450, 1), label("late", 600, 1)]
    rows = join(traffic, labels, since=T0 + timedelta(seconds=50), until=T0 + timedelta(seconds=400))
    assert [(r.request_id, r.label) for r in rows] == [("a", 0)]  # the label after `until` is not seen


def test_rows_take_the_projects_columns_and_misfits_are_counted_by_reason() -> None:
    source = binary_frame(200)
    source["day"] = pd.date_range("2024-01-01", periods=200, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    source["customer"] = np.arange(200) % 40
    source["refund"] = source["label"]
    project_spec = spec(
        timeColumn="day", groupColumn="customer", forbiddenColumns=["refund"], split={"strategy": "group"}
    )
    good = {"f0": None, "f1": 0.5, "f2": "1.5", "f3": 0, "f4": 1, "f5": 2.0, "region": "north"}
    rows = [
        LabelledRow(T0, "ok", 0, good, "1"),
        LabelledRow(T0, "ok", 1, good, 0),
        LabelledRow(T0, "extra", 0, good | {"shoe_size": 44}, 1),
        LabelledRow(T0, "short", 0, {k: v for k, v in good.items() if k != "f3"}, 1),
        LabelledRow(T0, "text", 0, good | {"f1": "high"}, 1),
        LabelledRow(T0, "class", 0, good, 7),
    ]
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    frame, accepted = to_frame(rows, source, project_spec, counts, examples)
    assert [(r.request_id, r.row) for r in accepted] == [("ok", 0), ("ok", 1)]
    assert {k: v for k, v in counts.items() if k.startswith("rejected:")} == {
        "rejected:unknown-feature": 1,
        "rejected:missing-feature": 1,
        "rejected:bad-value": 1,
        "rejected:unknown-label": 1,
    }
    assert "shoe_size" in examples["unknown-feature"]
    assert "'f3'" in examples["missing-feature"]
    assert list(frame.columns) == list(source.columns)
    assert frame["label"].tolist() == [1, 0]
    assert frame["label"].dtype == source["label"].dtype
    assert frame["f2"].tolist() == [1.5, 1.5]
    assert np.isnan(frame["f0"]).all()
    assert frame["day"].tolist() == ["2024-05-01 12:00:00"] * 2  # the source's own time format
    pd.to_datetime(pd.concat([source["day"], frame["day"]]), utc=True)  # the time split can still sort them
    assert frame["customer"].tolist() == ["request:ok"] * 2  # traffic has no group: one group per request
    assert frame["refund"].isna().all()


def test_request_times_fit_a_datetime_column_but_not_a_numeric_one() -> None:
    source = binary_frame(100)
    source["when"] = pd.date_range("2024-01-01", periods=100, freq="D", tz="UTC")  # as parquet stores it
    rows = [LabelledRow(T0, "a", 0, dict.fromkeys(FEATURES, 0.0) | {"region": "east"}, 1)]
    frame, _ = to_frame(rows, source, spec(timeColumn="when"), Counter(), {})
    assert frame["when"].tolist() == [pd.Timestamp(T0)]
    assert frame["when"].dtype == source["when"].dtype
    source = source.drop(columns="when").assign(epoch=np.arange(100.0))
    counts: Counter[str] = Counter()
    frame, _ = to_frame(rows, source, spec(timeColumn="epoch"), counts, {})
    assert len(frame) == 0
    assert counts["rejected:time-unplaceable"] == 1  # a number has no known unit: say so, do not guess


def test_logs_written_by_the_server_are_read_back(tmp_path: Path) -> None:
    source = binary_frame(300, seed=1)
    served = binary_frame(30, seed=2)
    write_logs(tmp_path, served.iloc[:20], {i: int(served["label"].iloc[i]) for i in range(12)}, "demo-1")
    write_logs(tmp_path, served.iloc[20:], {0: 1}, "demo-2", offset=1000)  # reuses request ids r0…r9
    root = tmp_path / "b/ns/demo"
    config = FeedbackConfig(str(root / "traffic/dep"), str(root / "feedback/dep"))
    added = load_feedback(config, Inputs(), source, spec())
    summary = added.summary
    # r0…r9 are logged twice (two versions): the earliest lines count, the latest label of r0 wins.
    assert (summary["requests"], summary["duplicates"], summary["labelled"]) == (20, 10, 12)
    assert summary["rows"] == len(added.frame) == 12
    assert summary["rejected"] == {}
    assert summary["trafficFiles"] == 2
    assert added.frame["label"].tolist() == [1, *served["label"].iloc[1:12].tolist()]
    assert added.frame["region"].tolist() == served["region"].iloc[:12].tolist()
    assert added.sha256 is not None
    assert (
        load_feedback(config, Inputs(), source, spec()).sha256 == added.sha256
    )  # the same rows, same digest
    missing = FeedbackConfig(str(tmp_path / "nothing/traffic"), str(tmp_path / "nothing/feedback"))
    assert load_feedback(missing, Inputs(), source, spec()).summary["rows"] == 0


def test_a_run_trains_on_the_source_plus_labelled_traffic(tmp_path: Path) -> None:
    source = binary_frame(400, seed=3)
    served = binary_frame(60, seed=4)
    labelled = {i: int(served["label"].iloc[i]) for i in range(0, 60, 2)}  # 30 of 60 requests get a label
    write_logs(tmp_path / "logs", served, labelled)
    root = tmp_path / "logs/b/ns/demo"
    flags = ["--feedback-traffic", str(root / "traffic/dep"), "--feedback-labels", str(root / "feedback/dep")]
    doc = project("binary-classification", "label", "roc_auc")
    code, result = run(tmp_path, doc, source, *flags, "--feedback-max-rows", "25",
                       "--feedback-until", ts(3600))  # fmt: skip
    assert code == 0, result.get("message")
    data = result["data"]
    assert (data["sourceRows"], data["feedbackRows"], data["rows"]) == (400, 25, 425)
    assert data["feedback"]["labelled"] == 30
    assert data["feedback"]["truncated"] == 5  # the newest 25 are kept
    assert result["profile"]["rows"] == 425
    assert sum(result["split"]["sizes"].values()) == 425
    assert result["dataDigest"] not in (data["sha256"], None)
    status = to_provenance(result)  # what the operator writes to the TrainingRun's status.data
    assert (status.rows, status.feedback_rows, status.feedback_rejected) == (425, 25, 0)

    early = ts(30)  # before any label was logged: nothing to add, and the digest is the source's own
    code, result = run(tmp_path, doc, None, *flags, "--feedback-until", early, out="out-early")
    assert code == 0, result.get("message")
    assert (result["data"]["feedbackRows"], result["data"]["rows"]) == (0, 400)
    assert result["dataDigest"] == result["data"]["sha256"]


@pytest.mark.parametrize(
    "extra",
    [
        ["--feedback-traffic", "t/"],
        ["--feedback-traffic", "t/", "--feedback-labels", "l/", "--feedback-max-rows", "0"],
        ["--feedback-traffic", "t/", "--feedback-labels", "l/", "--feedback-until", "yesterday"],
        ["--feedback-traffic", "t/", "--feedback-labels", "l/", "--feedback-max-age", "2d"],
    ],
)
def test_bad_feedback_arguments_are_usage_errors(tmp_path: Path, extra: list[str]) -> None:
    code, _ = run(tmp_path, project("binary-classification", "label", "roc_auc"), binary_frame(100), *extra)
    assert code == 2
