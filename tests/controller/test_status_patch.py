"""The status patch holds only what changed: an unchanged status costs no write at all."""

from datetime import UTC, datetime

import pytest

from mloop.api.mlproject import MLProjectStatus
from mloop.controller.settings import OperatorSettings, SettingsError
from mloop.controller.status import status_patch
from mloop.reconcile.conditions import Verdict, set_condition

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_unchanged_status_gives_an_empty_patch() -> None:
    status = MLProjectStatus(
        observed_generation=1,
        conditions=set_condition([], Verdict("Ready", "True", "Ready"), generation=1, now=T0),
        phase="Ready",
    )
    stored = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert status_patch(stored, status) == {}


def test_changed_and_removed_fields() -> None:
    old = {"phase": "Ready", "champion": "a-1", "observedGeneration": 1, "futureField": "kept"}
    new = MLProjectStatus(observed_generation=2, phase="Ready")
    patch = status_patch(old, new)
    assert patch["observedGeneration"] == 2
    assert patch["champion"] is None
    assert "phase" not in patch
    assert "futureField" not in patch


def test_settings_from_env_and_errors() -> None:
    settings = OperatorSettings.from_env(
        {"MLOOP_NAMESPACES": "a, b", "MLOOP_S3_SECRET_KEY": "hunter2", "MLOOP_RESYNC_SECONDS": "2.5"}
    )
    assert settings.namespaces == ("a", "b")
    assert settings.resync_seconds == 2.5
    assert "hunter2" not in repr(settings)
    with pytest.raises(SettingsError, match="MLOOP_S3_SECURE"):
        OperatorSettings.from_env({"MLOOP_S3_SECURE": "maybe"})
