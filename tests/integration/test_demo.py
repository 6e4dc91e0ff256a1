"""``make demo`` as a newcomer runs it: the whole loop on the embedded control plane, to the summary.

One run covers what no single unit can: a trained version gated and served, real traffic through the Service,
drift found in logged requests, a retraining raised by the monitor, the new version gated against the champion
re-scored on the same test set, a canary analysed from the pods' own metrics and promoted, and nothing left
running afterwards. Run twice in a row to prove a second run starts clean.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run_demo(home: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mloop.demo", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    assert done.returncode == 0, output[-6000:]
    return output


def test_the_demo_closes_the_loop_twice(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    for _ in range(2):
        out = run_demo(home)
        for step in (
            "DataValidated:",
            "Trained: best",
            "gate passed",
            "is serving at http://127.2.",
            "window ",
            "drifted=True",
            "the alert created TrainingRun",
            "champion credit-1 beaten",
            "canary] credit-2 step 0",
            "promoted credit-2",
        ):
            assert step in out, f"missing {step!r}:\n{out[-4000:]}"
        summary = out[out.index("Summary") :]
        assert re.search(r"credit-1\s+retired", summary), summary
        assert re.search(r"credit-2\s+champion", summary), summary
        assert "rollout: promoted credit-1 → credit-2" in summary
        assert re.search(r"traffic: \d+ requests, 0 failed", summary), summary
        assert (home / "reports" / "credit-2-report.html").stat().st_size > 1000
        assert re.search(r"all \d+ processes are gone", out), out[-2000:]
    assert processes_mentioning(str(home)) == []


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that name ``text`` (the demo's home): there must be none left."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in argv:
            found.append(argv)
    return found
