"""Which cluster the CLI talks to: kubeconfig lookup, context and credentials, the way kubectl does it.

Kept apart from the HTTP client so every "wrong context" or "no kubeconfig" mistake is reported before a
single request is made, with a sentence that says what to do. Supported credentials: bearer token (inline or
``tokenFile``), client certificate/key (data or files), an ``exec`` plugin (EKS/GKE style) and basic auth;
CA data or file, or ``insecure-skip-tls-verify``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["LOCAL_KUBECONFIG", "Connection", "find_kubeconfig", "load_connection"]

#: Written by ``mloop local up``; the last resort so the embedded default works without any setup.
LOCAL_KUBECONFIG = "~/.mloop/local/kubeconfig"
HOW_TO_FIX = "start the embedded control plane with `mloop local up`, or set KUBECONFIG (or --kubeconfig)"


@dataclass(frozen=True)
class Connection:
    """Everything needed to reach one API server as one user."""

    server: str
    namespace: str
    context: str
    kubeconfig: Path
    source: str
    token: str | None = None
    basic: tuple[str, str] | None = None
    ca_file: Path | None = None
    ca_data: str | None = None
    insecure: bool = False
    cert_pem: bytes | None = field(default=None, repr=False)


def find_kubeconfig(explicit: str | None) -> tuple[list[Path], str]:
    """The kubeconfig files to read and where that choice came from (shown with ``-v``)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"kubeconfig {path} does not exist: {HOW_TO_FIX}")
        return [path], "--kubeconfig"
    env = os.environ.get("KUBECONFIG", "")
    if env:
        paths = [Path(p).expanduser() for p in env.split(os.pathsep) if p]
        found = [p for p in paths if p.is_file()]
        if not found:
            raise ConfigError(f"KUBECONFIG={env} names no existing file: {HOW_TO_FIX}")
        return found, "$KUBECONFIG"
    for path, source in ((Path("~/.kube/config"), "~/.kube/config"), (Path(LOCAL_KUBECONFIG), "mloop local")):
        if path.expanduser().is_file():
            return [path.expanduser()], source
    raise ConfigError(f"no kubeconfig found (KUBECONFIG unset, no ~/.kube/config): {HOW_TO_FIX}")


def _merge(paths: list[Path]) -> dict[str, Any]:
    """kubectl's merge rule: the first file that defines a name (or current-context) wins."""
    import yaml  # noqa: PLC0415 - only when a command needs the cluster: keeps ``mloop --help`` fast

    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": "", "dirs": {}}
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise ConfigError(f"kubeconfig {path} is not a YAML mapping")
        for section in ("clusters", "users", "contexts"):
            for entry in doc.get(section) or []:
                name = entry.get("name", "")
                if name not in merged[section]:
                    merged[section][name] = entry.get(section[:-1]) or {}
                    merged["dirs"][(section, name)] = path.parent
        merged["current-context"] = merged["current-context"] or doc.get("current-context") or ""
    return merged


def load_connection(explicit: str | None, context: str | None, namespace: str | None) -> Connection:
    """Resolve kubeconfig, context, cluster and user into a ``Connection``, or say what is wrong."""
    paths, source = find_kubeconfig(explicit)
    config = _merge(paths)
    where = ", ".join(str(p) for p in paths)
    name = context or config["current-context"]
    contexts: dict[str, Any] = config["contexts"]
    if not name:
        raise ConfigError(f"kubeconfig {where} sets no current-context: pass --context ({_names(contexts)})")
    if name not in contexts:
        raise ConfigError(
            f"context {name!r} not found in kubeconfig {where} ({_names(contexts)}): "
            f"pass --context NAME, or {HOW_TO_FIX}"
        )
    ctx = contexts[name]
    cluster_name, user_name = ctx.get("cluster", ""), ctx.get("user", "")
    if cluster_name not in config["clusters"]:
        raise ConfigError(f"context {name!r} names cluster {cluster_name!r}, which is not in {where}")
    cluster = config["clusters"][cluster_name]
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise ConfigError(f"cluster {cluster_name!r} in {where} has no server URL")
    cluster_dir = config["dirs"][("clusters", cluster_name)]
    user: dict[str, Any] = config["users"].get(user_name, {})
    user_dir = config["dirs"].get(("users", user_name), cluster_dir)
    token, cert_pem = _credentials(user, user_dir, user_name)
    basic = (str(user["username"]), str(user.get("password", ""))) if user.get("username") else None
    ca_file = _path(cluster.get("certificate-authority"), cluster_dir)
    ca_data = cluster.get("certificate-authority-data")
    return Connection(
        server=server,
        namespace=namespace or ctx.get("namespace") or "default",
        context=name,
        kubeconfig=paths[0],
        source=source,
        token=token,
        basic=basic,
        ca_file=ca_file,
        ca_data=base64.b64decode(ca_data).decode() if ca_data else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        cert_pem=cert_pem,
    )


def _credentials(user: dict[str, Any], base: Path, name: str) -> tuple[str | None, bytes | None]:
    """Bearer token and client certificate + key (PEM, concatenated), from data, files or an exec plugin."""
    token: str | None = user.get("token")
    if not token and user.get("tokenFile"):
        token = _read(_path(user["tokenFile"], base), f"tokenFile of user {name!r}").decode().strip()
    cert = _pem(user, "client-certificate", base, name)
    key = _pem(user, "client-key", base, name)
    if user.get("exec") and not token and not cert:
        status = _exec_plugin(user["exec"], name)
        token = status.get("token")
        if status.get("clientCertificateData"):
            cert = status["clientCertificateData"].encode()
            key = str(status.get("clientKeyData", "")).encode()
    return token or None, (cert + b"\n" + (key or b"")) if cert else None


def _pem(user: dict[str, Any], what: str, base: Path, name: str) -> bytes | None:
    if user.get(f"{what}-data"):
        return base64.b64decode(user[f"{what}-data"])
    path = _path(user.get(what), base)
    return _read(path, f"{what} of user {name!r}") if path else None


def _exec_plugin(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """Run a client-go credential plugin (e.g. ``aws eks get-token``) and return its ``status``."""
    argv = [str(spec.get("command", "")), *[str(a) for a in spec.get("args") or []]]
    env = {**os.environ, **{e["name"]: str(e["value"]) for e in spec.get("env") or []}}
    try:
        done = subprocess.run(argv, env=env, capture_output=True, check=True, timeout=60)
        status: dict[str, Any] = json.loads(done.stdout).get("status") or {}
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise ConfigError(f"credential plugin {argv[0]!r} of user {name!r} failed: {exc}") from exc
    return status


def _path(value: object, base: Path) -> Path | None:
    """kubeconfig paths are relative to the file that names them."""
    return (base / Path(str(value)).expanduser()) if value else None


def _read(path: Path | None, what: str) -> bytes:
    try:
        return path.read_bytes() if path else b""
    except OSError as exc:
        raise ConfigError(f"cannot read the {what}: {exc}") from exc


def _names(entries: dict[str, Any]) -> str:
    return "available: " + ", ".join(sorted(entries)) if entries else "it defines no contexts"
