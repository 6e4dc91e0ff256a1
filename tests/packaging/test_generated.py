"""Generated files are committed fresh: the chart's CRD copies, deploy/ and docs/argocd.md
(``make manifests`` rewrites them; ``make verify`` runs the same comparison)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mloop.chartgen import argocd_doc, chart_crds, deploy_manifests, stale
from mloop.chartgen.__main__ import main
from mloop.chartgen.files import Outputs, write

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("generator", [chart_crds, deploy_manifests, argocd_doc], ids=lambda g: g.__name__)
def test_generated_files_are_fresh(generator: object) -> None:
    outputs = generator(ROOT)  # type: ignore[operator]
    assert outputs.files
    assert stale(outputs) == [], "stale generated files: run `make manifests`"


def test_check_mode_reports_and_write_mode_fixes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "deploy"
    target.mkdir()
    (target / "old.yaml").write_text("kind: Gone\n")
    outputs = Outputs(files={target / "a.yaml": "a: 1\n"}, owned_dirs={target: "*.yaml"})
    assert sorted(stale(outputs)) == [
        f"{target / 'a.yaml'}: missing",
        f"{target / 'old.yaml'}: no longer generated",
    ]
    write(outputs)
    assert stale(outputs) == []
    assert sorted(p.name for p in target.iterdir()) == ["a.yaml"]
    assert main(["--root", str(ROOT), "--check", "argocd"]) == 0
    with pytest.raises(SystemExit):
        main(["--check", "nonsense"])
    assert "unknown generator" in capsys.readouterr().err
