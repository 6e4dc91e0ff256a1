"""The native backend against alibi-detect itself, run in the ``.venv-alibi`` interpreter (alibi-detect
pins numpy<2, so it lives in its own environment built from the same lock).

alibi-detect stores statistics and p-values in float32 arrays (``np.zeros(n_features, dtype=np.float32)``
in ks.py, chisquare.py and tabular.py), so its detectors' outputs can only agree to float32 resolution. The
1e-9 agreement is therefore checked against the float64 values of the exact calls alibi makes, executed in
alibi's environment: ``ks_2samp(x_ref[:, f], x[:, f], alternative="two-sided", mode="asymp")`` and
``chi2_contingency`` of the table alibi's ``_get_counts`` builds; and the detectors' float32 outputs must
equal native's values rounded to float32 (KS) or lie within one float32 ulp of them (chi-square).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mloop.drift.detector import BackendUnavailable, FeatureSpec, make_detector
from mloop.drift.native import NativeDetector

ROOT = Path(__file__).resolve().parents[2]
ALIBI_PYTHON = ROOT / ".venv-alibi" / "bin" / "python"

SCRIPT = r"""
import json, sys, warnings
import numpy as np
from scipy.stats import chi2_contingency, ks_2samp
from alibi_detect.cd import ChiSquareDrift, KSDrift, TabularDrift
from mloop.drift.alibi import AlibiDetector
from mloop.drift.detector import FeatureSpec
warnings.simplefilter("ignore")
d = sys.argv[1]
ref, win = np.load(f"{d}/ref.npy"), np.load(f"{d}/win.npy")
ref_c, win_c = np.load(f"{d}/ref_codes.npy"), np.load(f"{d}/win_codes.npy")
cols = json.load(open(f"{d}/columns.json"))
out = {}
p, s = KSDrift(ref, p_val=0.05).score(win)
out["ks_alibi"] = [s.tolist(), p.tolist()]
out["ks_scipy"] = [list(map(float, ks_2samp(ref[:, f], win[:, f], alternative="two-sided", mode="asymp")))
                   for f in range(ref.shape[1])]
det = ChiSquareDrift(ref_c, p_val=0.05)
p, s = det.score(win_c)
out["chi_alibi"] = [s.tolist(), p.tolist()]
x_cats = {f: list(np.unique(win_c[:, f])) for f in range(ref_c.shape[1])}
union = {f: list(set().union(det.x_ref_categories[f], x_cats[f])) for f in range(ref_c.shape[1])}
rc, wc = det._get_counts(ref_c, union), det._get_counts(win_c, union)
tables = [np.vstack((rc[f], wc[f])) for f in range(ref_c.shape[1])]
out["chi_scipy"] = [list(map(float, chi2_contingency(t)[:2])) for t in tables]
both_ref, both_win = np.hstack((ref, ref_c)), np.hstack((win, win_c))
cats = {ref.shape[1] + f: None for f in range(ref_c.shape[1])}
p, s = TabularDrift(both_ref, p_val=0.05, categories_per_feature=cats).score(both_win)
out["tabular_alibi"] = [s.tolist(), p.tolist()]
specs = [FeatureSpec(n, k) for n, k in cols["specs"]]
def columns(part):
    return {n: (np.array(v, dtype=np.float64) if k == "numeric" else np.array(v, dtype=object))
            for (n, k), v in zip(cols["specs"], cols[part])}
wrapper = AlibiDetector(specs)
wrapper.fit(columns("ref"))
out["wrapper"] = [[r.name, r.statistic, r.p_value, r.unseen] for r in wrapper.test(columns("win"))]
json.dump(out, sys.stdout)
"""


def _data(tmp: Path) -> dict[str, Any]:
    rng = np.random.default_rng(21)
    ref = np.column_stack(
        [rng.normal(size=3000), rng.integers(0, 8, 3000), rng.exponential(2, 3000), rng.normal(size=3000)]
    ).astype(np.float32)
    win = np.column_stack(
        [rng.normal(0.1, 1, 700), rng.integers(0, 9, 700), rng.exponential(2.2, 700), rng.normal(size=700)]
    ).astype(np.float32)
    ref_codes = np.column_stack([rng.integers(0, 4, 3000), rng.integers(0, 2, 3000)]).astype(np.float64)
    win_codes = np.column_stack([rng.integers(0, 5, 700), rng.integers(0, 2, 700)]).astype(np.float64)
    for name, array in {"ref": ref, "win": win, "ref_codes": ref_codes, "win_codes": win_codes}.items():
        np.save(tmp / f"{name}.npy", array)
    # the wrapper gets what the checker passes: NaN for missing numerics, strings for categories
    ref_nan = ref[:, 0].astype(np.float64)
    ref_nan[::37] = np.nan
    win_nan = win[:, 0].astype(np.float64)
    win_nan[::11] = np.nan
    specs = [("n0", "numeric"), ("n1", "numeric"), ("c0", "categorical"), ("c1", "categorical")]
    to_str = np.vectorize(lambda v: f"k{int(v)}")
    columns = {
        "specs": specs,
        "ref": [
            ref_nan.tolist(),
            ref[:, 1].tolist(),
            to_str(ref_codes[:, 0]).tolist(),
            to_str(ref_codes[:, 1]).tolist(),
        ],
        "win": [
            win_nan.tolist(),
            win[:, 1].tolist(),
            to_str(win_codes[:, 0]).tolist(),
            to_str(win_codes[:, 1]).tolist(),
        ],
    }
    (tmp / "columns.json").write_text(json.dumps(columns))
    return {"ref": ref, "win": win, "ref_codes": ref_codes, "win_codes": win_codes, "columns": columns}


def _native(specs: list[FeatureSpec], ref: dict[str, np.ndarray], win: dict[str, np.ndarray]) -> list[Any]:
    detector = NativeDetector(specs)
    detector.fit(ref)
    return detector.test(win)


@pytest.mark.skipif(not ALIBI_PYTHON.exists(), reason=f"{ALIBI_PYTHON} not found: run `make install`")
def test_native_agrees_with_alibi_detect_on_ks_and_chi_square(tmp_path: Path) -> None:
    data = _data(tmp_path)
    proc = subprocess.run(
        [str(ALIBI_PYTHON), "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    alibi = json.loads(proc.stdout)

    num = [FeatureSpec(f"n{i}", "numeric") for i in range(4)]
    ks = _native(
        num, {f"n{i}": data["ref"][:, i] for i in range(4)}, {f"n{i}": data["win"][:, i] for i in range(4)}
    )
    cat = [FeatureSpec(f"c{i}", "categorical") for i in range(2)]
    as_str = np.vectorize(lambda v: f"k{int(v)}", otypes=[object])
    chi = _native(
        cat,
        {f"c{i}": as_str(data["ref_codes"][:, i]) for i in range(2)},
        {f"c{i}": as_str(data["win_codes"][:, i]) for i in range(2)},
    )
    for i, r in enumerate(ks):
        stat, p = alibi["ks_scipy"][i]
        assert r.statistic == pytest.approx(stat, abs=1e-9)
        assert r.p_value == pytest.approx(p, abs=1e-9)
        assert np.float32(r.statistic) == np.float32(alibi["ks_alibi"][0][i])  # alibi's float32 storage
        assert np.float32(r.p_value) == np.float32(alibi["ks_alibi"][1][i])
        assert np.float32(r.statistic) == np.float32(alibi["tabular_alibi"][0][i])
    for i, r in enumerate(chi):
        stat, p = alibi["chi_scipy"][i]
        assert r.statistic == pytest.approx(stat, rel=1e-9, abs=1e-9)
        assert r.p_value == pytest.approx(p, rel=1e-9, abs=1e-12)
        for key in ("chi_alibi", "tabular_alibi"):
            j = i if key == "chi_alibi" else 4 + i
            assert alibi[key][0][j] == pytest.approx(r.statistic, rel=2e-7)
            assert alibi[key][1][j] == pytest.approx(r.p_value, rel=2e-7, abs=1e-30)
    assert chi[0].unseen == ["k4"]  # the window-only category is counted, and named

    cols = data["columns"]
    specs = [FeatureSpec(n, k) for n, k in cols["specs"]]

    def column(part: str, i: int) -> np.ndarray:
        return np.array(cols[part][i], dtype=np.float64 if specs[i].kind == "numeric" else object)

    native = _native(
        specs,
        {s.name: column("ref", i) for i, s in enumerate(specs)},
        {s.name: column("win", i) for i, s in enumerate(specs)},
    )
    for r, (name, stat, p, unseen) in zip(native, alibi["wrapper"], strict=True):
        assert r.name == name
        assert r.unseen == unseen
        assert stat == pytest.approx(r.statistic, rel=2e-7)
        assert p == pytest.approx(r.p_value, rel=2e-7)


def test_the_default_install_never_imports_alibi_detect() -> None:
    code = (
        "import sys, mloop.drift.cli, mloop.drift.check, mloop.drift.native;"
        "print(any(m.startswith('alibi_detect') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_alibi_backend_without_alibi_names_the_extra() -> None:
    if importlib.util.find_spec("alibi_detect") is not None:
        pytest.skip("alibi-detect is installed in this interpreter")
    with pytest.raises(BackendUnavailable, match="drift-alibi"):
        make_detector("alibi-detect", [FeatureSpec("x", "numeric")])
