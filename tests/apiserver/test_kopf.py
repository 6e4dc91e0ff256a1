"""kopf 1.45 runs against the emulator through a kubeconfig: it sees a create and patches status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from tests.apiserver.helpers import GROUP, PLURAL, VERSION, eventually, register_widgets, widget
from tests.fixtures.apiserver import ApiServerHandle

pytestmark = pytest.mark.integration


def test_kopf_operator_sees_create_and_patches_status(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    api = apiserver.api_client()
    register_widgets(api)
    env = {**os.environ, "KUBECONFIG": str(apiserver.kubeconfig)}
    log = (tmp_path / "kopf.log").open("w")
    operator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kopf",
            "run",
            "--standalone",
            "--all-namespaces",
            "--verbose",
            str(Path(__file__).parent / "kopf_operator.py"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        custom = client.CustomObjectsApi(api)
        custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, widget("smoke", task="regression")
        )

        def phase() -> str | None:
            obj = custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "smoke")
            return obj.get("status", {}).get("phase")

        try:
            assert eventually(phase, timeout=15) == "Seen-regression"
        except AssertionError:
            raise AssertionError((tmp_path / "kopf.log").read_text()[-4000:]) from None
        core = client.CoreV1Api(api)

        def seen_event() -> bool:
            events = core.list_namespaced_event("default", field_selector="involvedObject.name=smoke")
            return any(e.reason == "Seen" for e in events.items)

        eventually(seen_event, timeout=10)
        watches = [r for r in apiserver.server.request_log if r.verb == "watch" and r.resource == PLURAL]
        assert watches, "kopf should watch widgets"
    finally:
        operator.terminate()
        try:
            operator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            operator.kill()
            operator.wait()
        log.close()
    output = (tmp_path / "kopf.log").read_text()
    assert "Traceback" not in output, output[-4000:]
