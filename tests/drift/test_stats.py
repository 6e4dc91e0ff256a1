"""Table tests of the pure pieces: KS and chi-square against scipy's own calls (what alibi-detect makes),
corrections, MMD's one-product permutation test against the loop, window parsing, metrics, termination."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats

from mloop.drift.corrections import adjust, benjamini_hochberg, bonferroni
from mloop.drift.data import category, number
from mloop.drift.detector import FeatureSpec
from mloop.drift.kstwo import kstwo_sf
from mloop.drift.mmd import (
    gaussian_kernel,
    mmd2_from_indicators,
    mmd2_naive,
    permutation_indicators,
    permutation_pvalue,
)
from mloop.drift.native import (
    NativeDetector,
    PreparedCategorical,
    PreparedNumeric,
    chi2_pvalues,
    chi2_statistic,
    chi2_statistics,
    ks_pvalues,
)
from mloop.drift.performance import metric_value, roc_auc
from mloop.drift.report import termination_message
from mloop.drift.window import Record, hour_partitions, parse_lines, parse_time

RNG = np.random.default_rng(11)

KS_CASES = [
    ("normal shift", RNG.normal(size=5000), RNG.normal(0.2, 1, 1000)),
    ("identical", np.arange(100.0), np.arange(100.0)),
    ("heavy ties", RNG.integers(0, 5, 3000).astype(float), RNG.integers(0, 6, 700).astype(float)),
    ("one window point", RNG.normal(size=50), np.array([0.3])),
    ("disjoint below", RNG.normal(5, 1, 200), RNG.normal(-5, 1, 300)),
    ("disjoint above", RNG.normal(-5, 1, 200), RNG.normal(5, 1, 300)),
    ("float32 values", RNG.normal(size=2000).astype(np.float32), RNG.normal(size=999).astype(np.float32)),
    ("window larger", RNG.normal(size=300), RNG.normal(0.1, 1.2, 4000)),
]


@pytest.mark.parametrize(("name", "ref", "win"), KS_CASES, ids=[c[0] for c in KS_CASES])
def test_ks_matches_scipy_ks_2samp_asymp(name: str, ref: np.ndarray, win: np.ndarray) -> None:
    prepared = PreparedNumeric(ref)
    d, n = prepared.statistic(win)
    expected = stats.ks_2samp(ref, win, alternative="two-sided", method="asymp")
    assert d == expected.statistic  # bit-identical: the same count / n divisions
    assert ks_pvalues([d], [prepared.n], [n])[0] == pytest.approx(expected.pvalue, abs=1e-12)


def test_ks_drops_missing_values_and_reports_empty_windows() -> None:
    prepared = PreparedNumeric(np.array([1.0, np.nan, 2.0, 3.0]))
    assert prepared.n == 3
    assert prepared.statistic(np.array([np.nan, np.nan])) == (None, 0)
    d, n = prepared.statistic(np.array([1.0, np.nan, 2.5]))
    assert n == 2
    assert d == stats.ks_2samp([1.0, 2.0, 3.0], [1.0, 2.5], method="asymp").statistic


def _union_table(ref: list[str], win: list[str]) -> np.ndarray:
    cats = sorted(set(ref) | set(win))
    return np.array([[ref.count(c) for c in cats], [win.count(c) for c in cats]])


CHI_CASES = [
    ("same categories", ["a"] * 50 + ["b"] * 30 + ["c"] * 20, ["a"] * 40 + ["b"] * 40 + ["c"] * 20),
    ("two categories (Yates)", ["a"] * 70 + ["b"] * 30, ["a"] * 50 + ["b"] * 50),
    ("two categories, tiny diff", ["a"] * 50 + ["b"] * 50, ["a"] * 50 + ["b"] * 51),
    ("unseen category", ["a"] * 60 + ["b"] * 40, ["a"] * 55 + ["b"] * 40 + ["new"] * 5),
    ("category gone", ["a"] * 60 + ["b"] * 30 + ["c"] * 10, ["a"] * 70 + ["b"] * 30),
    ("one category", ["a"] * 10, ["a"] * 7),
    ("only unseen", ["a"] * 10, ["z"] * 4),
]


@pytest.mark.parametrize(("name", "ref", "win"), CHI_CASES, ids=[c[0] for c in CHI_CASES])
def test_chi2_matches_scipy_chi2_contingency_on_the_union_table(
    name: str, ref: list[str], win: list[str]
) -> None:
    prepared = PreparedCategorical(np.array(ref, dtype=object))
    table, unseen = prepared.table(np.array(win, dtype=object))
    stat, dof = chi2_statistic(table)
    expected = stats.chi2_contingency(_union_table(ref, win))
    assert stat == pytest.approx(expected.statistic, rel=1e-12, abs=1e-12)
    assert dof == expected.dof
    assert chi2_pvalues([stat], [dof])[0] == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-15)
    assert unseen == sorted(set(win) - set(ref))


@pytest.mark.parametrize("n", [1, 7, 140, 141, 500, 909, 1013, 5000, 50_000])
def test_vectorised_kstwo_sf_equals_scipy_in_every_branch(n: int) -> None:
    rng = np.random.default_rng(n)
    # all of (0, 1), the range drift checks meet (n d^2 < 9), the branch edges (t = 1/2, 1, n - 1; d = 1/2)
    d = np.concatenate(
        (rng.uniform(0, 1, 60), rng.uniform(0, 3 / np.sqrt(n), 60), [0, 1, 0.5, 1 / n, 0.5 / n, 1 - 1 / n])
    )
    got = kstwo_sf(d, np.full(d.size, float(n)))
    np.testing.assert_allclose(got, stats.kstwo.sf(d, n), rtol=0, atol=1e-12)


def test_chi2_on_integer_codes_equals_the_string_path_and_scipy() -> None:
    rng = np.random.default_rng(4)
    ref, win = rng.integers(0, 6, 3000).astype(np.float64), rng.integers(1, 8, 700).astype(np.float64)
    coded = PreparedCategorical(ref)
    named = PreparedCategorical(np.array([f"k{int(v)}" for v in ref], dtype=object))
    table, unseen = coded.table(win)
    assert unseen == ["6", "7"]  # codes the reference never saw, named without a trailing ".0"
    by_name, _ = named.table(np.array([f"k{int(v)}" for v in win], dtype=object))
    assert chi2_statistic(by_name)[0] == pytest.approx(chi2_statistic(table)[0], rel=1e-12)
    expected = stats.chi2_contingency(table)
    stat, dof = chi2_statistic(table)
    assert stat == pytest.approx(expected.statistic, rel=1e-12)
    assert dof == expected.dof
    fast, _ = coded.table(np.array([0.0, 1.0, 1.0, 5.0]))  # every code known: the bincount path
    assert fast.tolist() == [coded.counts.tolist(), [1, 2, 0, 0, 0, 1]]


def test_codes_counted_together_fall_back_per_feature_on_anything_unusual() -> None:
    rng = np.random.default_rng(6)
    ref = {f"c{i}": rng.integers(0, 5, 2000).astype(np.float64) for i in range(5)}
    win = {f"c{i}": rng.integers(0, 5, 300).astype(np.float64) for i in range(5)}
    win["c1"][3] = -1.0  # a negative code
    win["c2"][4] = 2.5  # not a code at all
    win["c3"][5] = np.nan
    win["c4"][6] = 1e300  # far beyond every lookup table
    detector = NativeDetector([FeatureSpec(name, "categorical") for name in ref])
    detector.fit(ref)
    for result, name in zip(detector.test(win), ref, strict=True):
        table = _union_table([str(v) for v in ref[name]], [str(v) for v in win[name]])
        expected = stats.chi2_contingency(table)
        assert result.statistic == pytest.approx(expected.statistic, rel=1e-12), name
        assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12), name
    assert [r.unseen for r in detector.test(win)] == [[], ["-1"], ["2.5"], ["nan"], ["1e+300"]]


def test_chi2_statistics_scores_tables_of_different_widths_at_once() -> None:
    rng = np.random.default_rng(9)
    tables = [rng.integers(1, 400, (2, k)) for k in (1, 2, 2, 5, 8)]
    stats_, dofs = chi2_statistics([(t[0], t[1]) for t in tables])
    for table, stat, dof in zip(tables, stats_, dofs, strict=True):
        if table.shape[1] == 1:
            assert (stat, dof) == (0.0, 0)
            continue
        expected = stats.chi2_contingency(table)  # Yates for the two 2-category tables
        assert stat == pytest.approx(expected.statistic, rel=1e-12)
        assert dof == expected.dof


@pytest.mark.parametrize(
    ("p", "method", "expected"),
    [
        ([0.01, 0.04, 0.5], "bonferroni", [0.03, 0.12, 1.0]),
        ([0.01, 0.04, 0.03, 0.5], "fdr", [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5]),
        ([0.2, None, 0.01], "bonferroni", [0.4, None, 0.02]),
        ([], "fdr", []),
        ([None], "fdr", [None]),
    ],
)
def test_corrections_table(p: list[float | None], method: str, expected: list[float | None]) -> None:
    got = adjust(p, method)  # type: ignore[arg-type]
    assert [None if v is None else pytest.approx(v) for v in got] == expected


def test_fdr_flags_exactly_what_alibi_fdr_threshold_flags() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        p = np.concatenate((rng.uniform(0, 0.01, rng.integers(0, 4)), rng.uniform(0, 1, rng.integers(1, 20))))
        q = 0.05
        ranks = np.arange(1, p.size + 1)
        below = np.sort(p) < q * ranks / p.size
        threshold = np.sort(p)[np.flatnonzero(below).max()] if below.any() else -1.0
        assert [v < q for v in benjamini_hochberg(list(p))] == [bool(x <= threshold) for x in p]
        assert [v < q for v in bonferroni(list(p))] == [bool(x < q / p.size) for x in p]


def test_mmd_one_product_equals_the_per_permutation_loop() -> None:
    rng = np.random.default_rng(3)
    z = np.vstack((rng.normal(size=(120, 4)), rng.normal(0.3, 1, (80, 4))))
    kernel = gaussian_kernel(z, z, 1.5)
    np.fill_diagonal(kernel, 1.0)
    a = permutation_indicators(200, 120, 50, seed=1)
    fast = mmd2_from_indicators(kernel, a)
    slow = [mmd2_naive(kernel, np.flatnonzero(a[:, j]), np.flatnonzero(a[:, j] == 0)) for j in range(51)]
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12)
    assert a[:, 1:].sum(axis=0).tolist() == [120.0] * 50
    assert permutation_pvalue(fast[0], fast[1:]) < 0.05
    np.testing.assert_array_equal(a, permutation_indicators(200, 120, 50, seed=1))  # seeded


def test_hour_partitions_cover_exactly_the_overlapping_hours() -> None:
    start, end = parse_time("2024-05-01T22:30:00Z"), parse_time("2024-05-02T01:00:00+00:00")
    assert hour_partitions(start, end) == ["2024-05-01/22", "2024-05-01/23", "2024-05-02/00"]
    assert parse_time("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_parse_lines_keeps_the_window_and_counts_malformed_lines() -> None:
    lines = [
        b'{"ts": "2024-05-01T10:00:00Z", "requestId": "a", "features": {"x": 1}, "prediction": 0.5}',
        b'{"ts": "2024-05-01T11:00:00Z", "requestId": "b", "features": {"x": 2}}',  # end is exclusive
        b'{"ts": "2024-05-01T10:30:00Z", "requestId": "c"}',  # no features
        b'{"ts": "2024-05-01T10:3',  # torn write
        b"",
        b'["not", "an", "object"]',
    ]
    records, skipped = parse_lines(
        lines, parse_time("2024-05-01T10:00:00Z"), parse_time("2024-05-01T11:00:00Z")
    )
    assert [r.request_id for r in records] == ["a"]
    assert skipped == 3


@pytest.mark.parametrize(
    ("value", "expected"), [(None, ""), (float("nan"), ""), ("nan", ""), ("None", ""), ("a", "a"), (3, "3")]
)
def test_categories_fold_every_missing_spelling(value: object, expected: str) -> None:
    assert category(value) == expected


def test_numbers_are_float32_as_the_model_sees_them() -> None:
    assert number(0.1) == float(np.float32(0.1))
    assert np.isnan(number(None))
    assert np.isnan(number("x"))
    assert number("2.5") == 2.5


def _pairs(
    preds: list[object], labels: list[object], probs: list[float] | None = None
) -> list[tuple[Record, object]]:
    ts = parse_time("2024-05-01T10:00:00Z")
    out = []
    for i, (p, y) in enumerate(zip(preds, labels, strict=True)):
        pr = {"0": 1 - probs[i], "1": probs[i]} if probs else None
        out.append((Record(ts, str(i), {}, p, pr), y))
    return out


@pytest.mark.parametrize(
    ("metric", "pairs", "expected"),
    [
        ("accuracy", _pairs(["1", "0", "1", "1"], [1, 0, 0, 1]), 0.75),
        ("precision", _pairs(["1", "0", "1", "1"], [1, 0, 0, 1], [0.9, 0.2, 0.6, 0.8]), 2 / 3),
        ("recall", _pairs(["1", "0", "0", "1"], [1, 0, 1, 1], [0.9, 0.2, 0.4, 0.8]), 2 / 3),
        ("roc_auc", _pairs(["1", "0", "1", "0"], [1, 0, 0, 1], [0.9, 0.1, 0.8, 0.3]), 0.75),
        ("log_loss", _pairs(["1", "0"], [1, 0], [0.8, 0.4]), -(np.log(0.8) + np.log(0.6)) / 2),
        ("rmse", _pairs([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]), np.sqrt(4 / 3)),
        ("mae", _pairs([1.0, 2.0, 3.0], [2.0, 2.0, 5.0]), 1.0),
        ("r2", _pairs([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), 1.0),
    ],
)
def test_metrics_table(metric: str, pairs: list[tuple[Record, object]], expected: float) -> None:
    assert metric_value(metric, pairs, [], "1" if pairs[0][0].probabilities else None) == pytest.approx(
        expected
    )


def test_roc_auc_handles_ties_and_single_class() -> None:
    assert roc_auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5
    assert roc_auc(np.array([0.5, 0.7]), np.array([True, True])) is None


def test_termination_message_stays_valid_json_under_4096_bytes() -> None:
    features = [
        {
            "name": f"feature_with_a_long_name_{i:04d}",
            "test": "ks",
            "statistic": 0.1234567,
            "pValue": 1e-5 * i,
            "pValueCorrected": 1e-3,
            "drifted": i % 2 == 0,
        }
        for i in range(1000)
    ]
    report = {
        "status": "succeeded",
        "drifted": True,
        "insufficientData": False,
        "features": features,
        "samples": {"reference": 10000, "window": 1000},
        "reportUri": "s3://b/" + "k" * 200,
        "notes": ["x" * 3000],
    }
    text = termination_message(report)
    assert len(text.encode()) <= 4096
    summary = json.loads(text)
    assert summary["drifted"] is True
    assert summary["driftedFeatureCount"] == 500
    assert summary["driftedFeatures"][0]["pValue"] == 0.0  # most significant kept first
    failed = json.loads(
        termination_message({"status": "failed", "reason": "DataNotFound", "message": "m" * 10000})
    )
    assert failed["status"] == "failed"
    assert len(json.dumps(failed)) <= 4096
