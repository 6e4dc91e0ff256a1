"""The cluster commands start fast: none of their modules loads kopf, aiohttp, sklearn, pydantic or minio
(``report`` loads minio only when it runs), and ``mloop --help`` documents the exit codes."""

from __future__ import annotations

import subprocess
import sys

from mloop.api.kinds import KINDS as API_KINDS
from mloop.cli.kube import KINDS
from tests.cli.conftest import run_subprocess

HEAVY = ("kopf", "aiohttp", "sklearn", "pydantic", "minio", "kubernetes", "yaml", "numpy")


def test_cluster_command_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, mloop.cli.status, mloop.cli.actions, mloop.cli.retrain, mloop.cli.report\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_kinds_match_the_api_registry() -> None:
    assert {info.plural: info.kind for info in API_KINDS} == KINDS


def test_help_lists_commands_and_exit_codes() -> None:
    result = run_subprocess("--help")
    assert result.code == 0
    for command in ("status", "approve", "promote", "abort", "rollback", "retrain", "report", "local"):
        assert f"    {command} " in result.out
    assert "exit codes:\n  0  done" in result.out
    assert "  4  `mloop retrain --wait`: timed out" in result.out
