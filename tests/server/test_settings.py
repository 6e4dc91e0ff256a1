"""Settings: flags win over MLOOP_SERVER_* variables, defaults fill the rest, bad values name the setting."""

from __future__ import annotations

import pytest

from mloop.server.settings import ServerSettings, SettingsError, parse_settings

SHA = "ab" * 32


def test_environment_and_flags() -> None:
    env = {
        "MLOOP_SERVER_MODEL": "s3://b/ns/p/versions/v1/model.onnx",
        "MLOOP_SERVER_SHA256": SHA.upper(),
        "MLOOP_SERVER_NAME": "credit",
        "MLOOP_SERVER_VERSION": "credit-1",
        "MLOOP_SERVER_HOST": "127.1.0.7",
        "MLOOP_SERVER_PORT": "9000",
        "MLOOP_SERVER_ROLE": "canary",
        "MLOOP_SERVER_TRAFFIC_URI": "s3://b/ns/p/traffic/",
        "MLOOP_SERVER_DEPLOYMENT": "credit-dep",
        "MLOOP_SERVER_MAX_BODY_BYTES": "2048",
        "MLOOP_SERVER_LOG_BATCH_SIZE": "10",
        "MLOOP_SERVER_LOG_FLUSH_SECONDS": "0.5",
        "MLOOP_SERVER_LOG_BUFFER": "100",
    }
    s = parse_settings(["--port", "9100"], env)
    assert s == ServerSettings(
        model="s3://b/ns/p/versions/v1/model.onnx", sha256=SHA, name="credit", version="credit-1",
        host="127.1.0.7", port=9100, role="canary", traffic_uri="s3://b/ns/p/traffic/",
        deployment="credit-dep",
        max_body_bytes=2048, log_batch_size=10, log_flush_seconds=0.5, log_buffer=100,
    )  # fmt: skip
    defaults = parse_settings(["--model", "m.onnx", "--sha256", SHA, "--name", "n", "--version", "v"], {})
    assert (defaults.host, defaults.port, defaults.role, defaults.traffic_uri) == (
        "0.0.0.0",
        8080,
        "stable",
        None,
    )
    assert defaults.max_body_bytes == 1024 * 1024
    assert defaults.deployment_name == "n"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--role", "shadow"], "--role"),
        (["--port", "http"], "--port"),
        (["--port", "70000"], "--port"),
        (["--traffic-uri", "/tmp/log"], "--traffic-uri"),
        (["--name", "a/b"], "--name"),
        (["--max-body-bytes", "0"], "--max-body-bytes"),
        (["--sha256", "xyz"], "--sha256"),
    ],
)
def test_bad_settings(extra: list[str], needle: str) -> None:
    base = ["--model", "m.onnx", "--sha256", SHA, "--name", "n", "--version", "v"]
    with pytest.raises(SettingsError, match=needle):
        parse_settings([*base, *extra], {})


def test_required() -> None:
    with pytest.raises(SettingsError, match="MLOOP_SERVER_SHA256"):
        parse_settings(["--model", "m.onnx", "--name", "n", "--version", "v"], {})
