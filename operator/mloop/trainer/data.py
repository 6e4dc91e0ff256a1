"""Stage 1 (DataLoaded): read CSV or Parquet from S3 or disk and record exactly what was read.

Provenance is what makes a run reproducible and lets the operator refuse a retry on the same bad data:
``sha256`` is the SHA-256 of the bytes for one object. For a prefix or directory of parts it is the SHA-256
of the text ``"<relative key>\\t<part sha256>\\n"`` over the parts sorted by key: renaming, adding, removing
or changing any part changes it, and it can be recomputed from a listing plus per-part digests.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mloop.trainer.io import Inputs
from mloop.trainer.result import TrainerFailure

__all__ = ["Loaded", "detect_format", "load_data", "parse_bytes"]

_SUFFIXES = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".parq": "parquet",
}


@dataclass(frozen=True)
class Loaded:
    """The data and its provenance (``DataProvenance`` in the TrainingRun status)."""

    frame: pd.DataFrame
    uri: str
    sha256: str
    parts: int
    format: str

    def provenance(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "sha256": self.sha256,
            "rows": len(self.frame),
            "columns": self.frame.shape[1],
            "parts": self.parts,
            "format": self.format,
        }


def detect_format(name: str, declared: str = "auto") -> str | None:
    """``csv`` or ``parquet``: the declared format wins, else the suffix; None when neither says."""
    if declared != "auto":
        return declared
    lower = name.lower()
    for suffix, fmt in _SUFFIXES.items():
        if lower.endswith(suffix):
            return fmt
    return None


def parse_bytes(data: bytes, fmt: str, name: str) -> pd.DataFrame:
    """One part as a DataFrame; a parse error is bad data (``DataUnreadable``), not a crash."""
    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        sep = "\t" if name.lower().endswith(".tsv") else ","
        compression = "gzip" if name.lower().endswith(".gz") else None
        return pd.read_csv(io.BytesIO(data), sep=sep, compression=compression)
    except Exception as exc:
        raise TrainerFailure("DataUnreadable", f"{name}: cannot parse as {fmt}: {exc}") from exc


def load_data(
    location: str, inputs: Inputs, declared_format: str = "auto", expected_sha256: str | None = None
) -> Loaded:
    """Read one object or every part under a prefix (in key order, concatenated), then check the pin."""
    parts = inputs.parts(location)
    if parts is None:
        fmt = detect_format(location, declared_format)
        if fmt is None:
            raise TrainerFailure(
                "UnknownFormat", f"{location}: cannot tell CSV from Parquet; set data.source.format"
            )
        data = inputs.read(location)
        sha = hashlib.sha256(data).hexdigest()
        frame = parse_bytes(data, fmt, location)
        count = 1
    else:
        base = location.rstrip("/") + "/"
        named = [(p, detect_format(p, "auto")) for p in parts if not _hidden(p[len(base) :])]
        fmt = declared_format if declared_format != "auto" else _majority(named, location)
        chosen = [p for p, f in named if f == fmt or (declared_format != "auto" and f is None)]
        if not chosen:
            raise TrainerFailure("DataNotFound", f"{location}: no {fmt or 'CSV or Parquet'} parts found")
        listing = hashlib.sha256()
        frames = []
        for part in chosen:
            data = inputs.read(part)
            part_sha = hashlib.sha256(data).hexdigest()
            listing.update(f"{part[len(base) :]}\t{part_sha}\n".encode())
            frames.append(parse_bytes(data, fmt, part))
        sha = listing.hexdigest()
        frame = _concat(frames, location)
        count = len(chosen)
    if expected_sha256 and sha != expected_sha256.lower().removeprefix("sha256:"):
        raise TrainerFailure(
            "DataDigestMismatch",
            f"{location}: data SHA-256 is {sha} but the run is pinned to {expected_sha256}",
        )
    return Loaded(frame=frame.reset_index(drop=True), uri=location, sha256=sha, parts=count, format=fmt)


def _hidden(relative: str) -> bool:
    """Markers such as ``_SUCCESS`` and dot files written by Spark or editors are not data."""
    return any(seg.startswith(("_", ".")) for seg in relative.split("/"))


def _majority(named: list[tuple[str, str | None]], location: str) -> str:
    formats = {f for _, f in named if f is not None}
    if len(formats) != 1:
        found = ", ".join(sorted(formats)) or "none"
        raise TrainerFailure(
            "UnknownFormat", f"{location}: parts must all be CSV or all Parquet (found: {found})"
        )
    return formats.pop()


def _concat(frames: list[pd.DataFrame], location: str) -> pd.DataFrame:
    columns = list(frames[0].columns)
    for i, frame in enumerate(frames[1:], start=2):
        if list(frame.columns) != columns:
            raise TrainerFailure(
                "SchemaMismatch",
                f"{location}: part {i} has columns {list(frame.columns)}, expected {columns}",
            )
    return pd.concat(frames, ignore_index=True)
