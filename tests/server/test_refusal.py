"""Corrupted, swapped, non-ONNX and unsafe models are refused before the port is bound; nothing is served."""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import socket
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from mloop.artifacts import ArtifactStore
from mloop.server.cli import EXIT_REFUSED, EXIT_USAGE, main
from mloop.server.model import ModelRejected, OnnxModel, check_onnx
from tests.fixtures.s3 import S3Handle
from tests.server.conftest import ServerProcess, TrainedModel, free_port

CORRUPTIONS = 120


def _corrupt(data: bytes, rng: random.Random) -> bytes:
    """Flip, overwrite, truncate or insert a few bytes somewhere in the file."""
    buf = bytearray(data)
    how = rng.choice(["flip", "overwrite", "truncate", "insert"])
    pos = rng.randrange(len(buf))
    if how == "flip":
        buf[pos] ^= 1 << rng.randrange(8)
    elif how == "overwrite":
        for i in range(pos, min(len(buf), pos + rng.randint(1, 16))):
            buf[i] = rng.randrange(256)
    elif how == "truncate":
        del buf[pos:]
    else:
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(buf) if bytes(buf) != data else data + b"\x00"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_random_corruptions_are_never_served(
    models: dict[str, TrainedModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real entry point, in-process: each corrupted file exits 1 before uvicorn is even imported."""
    model = models["binary"]
    original = model.path.read_bytes()
    rng = random.Random(20240501)
    port = free_port()
    refused = 0
    for i in range(CORRUPTIONS):
        path = tmp_path / f"corrupt-{i}.onnx"
        path.write_bytes(_corrupt(original, rng))
        argv = ["--model", str(path), "--sha256", model.sha256, "--name", "m", "--version", "v1",
                "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        code = main(argv)
        assert code == EXIT_REFUSED
        refused += 1
        assert not _listening(port)
    assert refused == CORRUPTIONS
    err = capsys.readouterr().err
    assert err.count("refusing to serve") == CORRUPTIONS
    assert "ChecksumMismatch" in err


def test_corruptions_with_their_own_digest_never_crash_the_loader(
    models: dict[str, TrainedModel], tmp_path: Path
) -> None:
    """Without the checksum (digest recomputed), the structural checks must still fail cleanly: every
    corruption is refused with a reason or loads as some valid graph — never a crash. This is why the
    SHA-256 is the gate: a flipped weight is still valid ONNX. Runs in a child so a native crash shows."""
    script = f"""
import hashlib, json, random, sys
sys.path.insert(0, {str(Path(__file__).parents[2])!r})
from tests.server.test_refusal import _corrupt
from mloop.server.model import ModelRejected, OnnxModel
data = open({str(models["binary"].path)!r}, 'rb').read()
rng = random.Random(7)
outcomes = {{}}
for _ in range(100):
    try:
        OnnxModel(_corrupt(data, rng)).warm_up()
        key = "loaded"
    except ModelRejected as exc:
        key = exc.reason
    outcomes[key] = outcomes.get(key, 0) + 1
print(json.dumps(outcomes))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert sum(outcomes.values()) == 100
    assert set(outcomes) <= {"loaded", "NotOnnx", "LoadFailed", "BadSignature", "WarmupFailed",
                             "CustomOperators",
                             "ExternalData"}  # fmt: skip
    assert outcomes.get("loaded", 0) < 100


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os  # noqa: PLC0415

    return subprocess.run(
        [sys.executable, "-m", "mloop.server", *argv],
        check=False, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_corrupted_and_swapped_files_exit_nonzero(models: dict[str, TrainedModel], tmp_path: Path) -> None:
    binary, other = models["binary"], models["multiclass"]
    corrupted = tmp_path / "model.onnx"
    corrupted.write_bytes(_corrupt(binary.path.read_bytes(), random.Random(1)))
    port = free_port()
    common = ["--name", "m", "--version", "v1", "--host", "127.0.0.1", "--port", str(port)]
    for path in (corrupted, other.path):  # a corrupted file; a valid model that is not the expected one
        done = _run(["--model", str(path), "--sha256", binary.sha256, *common])
        assert done.returncode == EXIT_REFUSED
        assert "refusing to serve" in done.stderr
        assert "ChecksumMismatch" in done.stderr
        assert not _listening(port)
    done = _run(["--model", str(tmp_path / "missing.onnx"), "--sha256", binary.sha256, *common])
    assert done.returncode == EXIT_REFUSED
    assert "ModelNotFound" in done.stderr
    done = _run(["--model", str(binary.path), "--sha256", "abc", *common])
    assert done.returncode == EXIT_USAGE
    assert "--sha256" in done.stderr


def _rejected(data: bytes) -> str:
    with pytest.raises(ModelRejected) as info:
        OnnxModel(data).warm_up()
    return info.value.reason


def test_only_plain_onnx_is_accepted(models: dict[str, TrainedModel]) -> None:
    data = models["binary"].path.read_bytes()
    assert _rejected(pickle.dumps({"model": [1, 2, 3]})) == "NotOnnx"
    assert _rejected(b"PK\x03\x04 a zip archive") == "NotOnnx"
    assert _rejected(b"") == "NotOnnx"

    custom = onnx.load_model_from_string(data)
    custom.opset_import.add(domain="com.example.custom", version=1)
    assert _rejected(custom.SerializeToString()) == "CustomOperators"

    node = onnx.load_model_from_string(data)
    node.graph.node[0].domain = "com.microsoft"
    assert _rejected(node.SerializeToString()) == "CustomOperators"

    external = onnx.load_model_from_string(data)
    tensor = external.graph.initializer[0]
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    assert _rejected(external.SerializeToString()) == "ExternalData"
    check_onnx(data)  # the untouched model passes


def test_pickle_with_matching_digest_exits_nonzero(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(pickle.dumps(object))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    done = _run(
        ["--model", str(path), "--sha256", sha, "--name", "m", "--version", "v1", "--port", str(free_port())]
    )
    assert done.returncode == EXIT_REFUSED
    assert "NotOnnx" in done.stderr


def test_model_from_s3_is_verified(
    models: dict[str, TrainedModel], s3_server: S3Handle, tmp_path: Path
) -> None:
    bucket = s3_server.unique_bucket("server")
    store = ArtifactStore(s3_server.endpoint, s3_server.access_key, s3_server.secret_key)
    uri = f"s3://{bucket}/ns/proj/versions/v1/model.onnx"
    store.put_bytes(uri, models["binary"].path.read_bytes())
    env = {
        "MLOOP_S3_ENDPOINT": s3_server.url,
        "MLOOP_S3_ACCESS_KEY": "testing",
        "MLOOP_S3_SECRET_KEY": "testing",
    }
    wrong = hashlib.sha256(b"another model").hexdigest()
    done = _run(["--model", uri, "--sha256", wrong, "--name", "m", "--version", "v1",
                 "--port", str(free_port())],
                env)  # fmt: skip
    assert done.returncode == EXIT_REFUSED
    assert "ChecksumMismatch" in done.stderr
    model = TrainedModel("binary", Path(uri), models["binary"].sha256, models["binary"].result)
    server = ServerProcess(model, tmp_path / "s3.log", env=env)
    server.argv = lambda: [  # type: ignore[method-assign]
        sys.executable, "-m", "mloop.server", "--model", uri, "--sha256", model.sha256, "--name", "demo",
        "--version", "v1", "--host", "127.0.0.1", "--port", str(server.port),
    ]  # fmt: skip
    try:
        server.start()
        assert server.json("GET", "/v2/models/demo/ready") == (200, {"name": "demo", "ready": True})
    finally:
        server.stop()


def test_server_imports_no_sklearn(models: dict[str, TrainedModel]) -> None:
    """After a full start-up (model loaded, app built, uvicorn imported) no training library is loaded."""
    model = models["regression"]
    script = f"""
import json, sys
from mloop.server.cli import build_app
from mloop.server.settings import parse_settings
import uvicorn
app = build_app(parse_settings(["--model", {str(model.path)!r}, "--sha256", {model.sha256!r},
                                "--name", "m", "--version", "v1"]))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "skl2onnx", "pandas", "scipy",
                                                              "matplotlib", "pickle_model"))
print(json.dumps({{"heavy": heavy, "ready": app.dp.ready}}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"heavy": [], "ready": True}
