"""kubeconfig handling beyond the emulator's plain-HTTP one: TLS with CA and client certificate data, files
relative to the kubeconfig, token files, exec credential plugins and insecure-skip-tls-verify."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from mloop.cli import kube as kube_module
from mloop.cli.errors import ConfigError
from mloop.cli.kubeconfig import load_connection


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (CN=alice), all signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req",
        "-x509",
        *key,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=test-ca",
        "-days",
        "1",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, extra in (("server", ["-extfile", "san.ext"]), ("client", [])):
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        sign = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1"]
        openssl("x509", "-req", "-in", f"{name}.csr", *sign, "-out", f"{name}.crt", *extra, cwd=d)
    return d


class Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []

    def do_GET(self) -> None:
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        subject = {str(rdn[0][0]): str(rdn[0][1]) for rdn in (peer or {}).get("subject", ())}
        Handler.seen.append((self.path, self.headers.get("Authorization", ""), subject.get("commonName", "")))
        body: dict[str, list[Any]] = (
            {"items": []} if self.path.startswith("/apis/mloop.io/v1alpha1/") else {"resources": []}
        )
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def https_server(pki: Path) -> Iterator[str]:
    """An HTTPS server that requires a client certificate signed by the test CA."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    ctx.load_verify_locations(pki / "ca.crt")
    ctx.verify_mode = ssl.CERT_REQUIRED
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Handler.seen.clear()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def write(path: Path, cluster: dict[str, Any], user: dict[str, Any], namespace: str = "ml") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": namespace}}],
                "current-context": "x",
            }
        )
    )
    return path


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_tls_with_ca_and_client_certificate_data(
    https_server: str, pki: Path, tmp_path: Path, run_cli: Any
) -> None:
    cluster = {"server": https_server, "certificate-authority-data": b64(pki / "ca.crt")}
    user = {"client-certificate-data": b64(pki / "client.crt"), "client-key-data": b64(pki / "client.key")}
    result = run_cli("status", "--kubeconfig", str(write(tmp_path / "config", cluster, user)))
    assert (result.code, result.out.strip()) == (0, "no mloop objects in namespace ml (create an MLProject: "
                                                 "kubectl apply -f examples/mlproject.yaml)")  # fmt: skip
    assert Handler.seen[0] == ("/apis/mloop.io/v1alpha1/namespaces/ml/mlprojects", "", "client")


def test_tls_with_files_relative_to_the_kubeconfig_and_a_token_file(
    https_server: str, pki: Path, run_cli: Any
) -> None:
    (pki / "token").write_text("s3cret\n")
    cluster = {"server": https_server, "certificate-authority": "ca.crt"}
    user = {"client-certificate": "client.crt", "client-key": "client.key", "tokenFile": "token"}
    config = write(pki / "config", cluster, user)
    assert run_cli("status", "--kubeconfig", str(config)).code == 0
    assert Handler.seen[0][1:] == ("Bearer s3cret", "client")


def test_tls_errors_and_insecure_skip_verify(
    https_server: str, pki: Path, tmp_path: Path, run_cli: Any
) -> None:
    user = {"client-certificate-data": b64(pki / "client.crt"), "client-key-data": b64(pki / "client.key")}
    untrusted = run_cli("status", "--kubeconfig", str(write(tmp_path / "a", {"server": https_server}, user)))
    assert untrusted.code == 2
    assert untrusted.err.startswith(f"mloop: TLS error talking to the Kubernetes API at {https_server}:")
    insecure = {"server": https_server, "insecure-skip-tls-verify": True}
    assert run_cli("status", "--kubeconfig", str(write(tmp_path / "b", insecure, user))).code == 0


def test_exec_credential_plugin(tmp_path: Path) -> None:
    script = "import json; print(json.dumps({'status': {'token': 'from-plugin'}}))"
    user = {"exec": {"command": sys.executable, "args": ["-c", script], "apiVersion": "x"}}
    conn = load_connection(str(write(tmp_path / "config", {"server": "https://k"}, user)), None, None)
    assert (conn.token, conn.namespace, conn.context) == ("from-plugin", "ml", "x")
    broken = {"exec": {"command": "/nonexistent/plugin"}}
    with pytest.raises(ConfigError, match="credential plugin '/nonexistent/plugin' of user 'u' failed"):
        load_connection(str(write(tmp_path / "bad", {"server": "https://k"}, broken)), None, None)


def test_bad_server_urls_and_missing_clusters(tmp_path: Path) -> None:
    conn = load_connection(str(write(tmp_path / "c", {"server": "ftp://k"}, {})), None, None)
    with pytest.raises(ConfigError, match="is not http"):
        kube_module.Kube(conn)
    (tmp_path / "d").write_text(yaml.safe_dump({"contexts": [{"name": "x", "context": {"cluster": "gone"}}]}))
    with pytest.raises(ConfigError, match="sets no current-context: pass --context \\(available: x\\)"):
        load_connection(str(tmp_path / "d"), None, None)
    with pytest.raises(ConfigError, match="names cluster 'gone', which is not in"):
        load_connection(str(tmp_path / "d"), "x", None)
