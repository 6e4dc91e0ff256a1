"""What a container's process gets: argv, environment and working directory (pure functions).

The rules are the kubelet's: ``envFrom`` first, then ``env`` in order, each value expanded with
``$(VAR)`` against what is defined so far (``$$`` escapes, unknown references stay verbatim);
command and args are expanded against the final environment. The runner's own environment is
never inherited, so its credentials cannot leak into pods; only what the interpreter needs is added.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mloop.images import ENTRYPOINTS, component_of

__all__ = [
    "ConfigError",
    "ImageNotRunnable",
    "Sources",
    "base_environment",
    "container_argv",
    "container_env",
    "expand",
    "mount_env_name",
    "referenced_sources",
    "working_dir",
]

#: (kind, name) -> decoded data, or None when the object does not exist.
Sources = Mapping[tuple[str, str], Mapping[str, str] | None]

_PYTHON = re.compile(r"^python(3(\.\d+)?)?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_REF = re.compile(r"^metadata\.(labels|annotations)\['(?P<key>[^']+)'\]$")


class ConfigError(Exception):
    """A missing Secret, ConfigMap or key: the kubelet's ``CreateContainerConfigError``."""


class ImageNotRunnable(Exception):
    """An image that is not one of ours: the runner cannot run it without a container runtime."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion (a port of ``third_party/forked/golang/expansion``)."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            advance = 1
            if nxt == "$":
                out.append("$")
            elif nxt == "(":
                end = text.find(")", cursor + 2)
                if end < 0:
                    out.append("$(")
                else:
                    name = text[cursor + 2 : end]
                    out.append(env.get(name, f"$({name})"))
                    advance = end - cursor
            else:
                out.append("$" + nxt)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def referenced_sources(spec: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every Secret and ConfigMap the pod's containers read env from (fetched before starting)."""
    refs: set[tuple[str, str]] = set()
    for container in spec.get("containers") or []:
        for item in container.get("envFrom") or []:
            if item.get("secretRef"):
                refs.add(("Secret", item["secretRef"].get("name", "")))
            if item.get("configMapRef"):
                refs.add(("ConfigMap", item["configMapRef"].get("name", "")))
        for var in container.get("env") or []:
            source = var.get("valueFrom") or {}
            if source.get("secretKeyRef"):
                refs.add(("Secret", source["secretKeyRef"].get("name", "")))
            if source.get("configMapKeyRef"):
                refs.add(("ConfigMap", source["configMapKeyRef"].get("name", "")))
    return refs


def _source(sources: Sources, kind: str, name: str, namespace: str, optional: bool) -> Mapping[str, str]:
    data = sources.get((kind, name))
    if data is None:
        if optional:
            return {}
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    return data


def _field(pod: Mapping[str, Any], path: str, pod_ip: str, node_name: str) -> str:
    meta = pod.get("metadata") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": node_name,
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default"),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": "127.0.0.1",
        "status.hostIPs": "127.0.0.1",
    }
    if path in simple:
        return str(simple[path])
    match = _LABEL_REF.match(path)
    if match:
        return str((meta.get(match[1]) or {}).get(match["key"], ""))
    raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    sources: Sources,
    *,
    pod_ip: str,
    node_name: str,
    base: Mapping[str, str],
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The process environment: ``base``, then the container's env, then ``extra`` (ours, last)."""
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    env: dict[str, str] = {}
    for item in container.get("envFrom") or []:
        prefix = item.get("prefix", "")
        for kind, ref in (("ConfigMap", item.get("configMapRef")), ("Secret", item.get("secretRef"))):
            if ref:
                data = _source(sources, kind, ref.get("name", ""), namespace, bool(ref.get("optional")))
                env.update({prefix + k: v for k, v in data.items() if _ENV_NAME.match(prefix + k)})
    for var in container.get("env") or []:
        name = var.get("name", "")
        source = var.get("valueFrom")
        if not source:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            ref = source.get(key)
            if ref:
                optional = bool(ref.get("optional"))
                data = _source(sources, kind, ref.get("name", ""), namespace, optional)
                if ref.get("key") in data:
                    env[name] = data[ref["key"]]
                elif not optional:
                    raise ConfigError(
                        f"couldn't find key {ref.get('key')} in {kind} {namespace}/{ref.get('name')}"
                    )
        if source.get("fieldRef"):
            env[name] = _field(pod, source["fieldRef"].get("fieldPath", ""), pod_ip, node_name)
        # resourceFieldRef is not emulated: there are no resource limits on a local process.
    return {**base, **env, **extra}


def container_argv(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """argv for the process: ``command`` + ``args`` expanded, or the image's entrypoint + args."""
    image = str(container.get("image", ""))
    component = component_of(image)
    if component is None:
        raise ImageNotRunnable(
            f'image "{image}" cannot run locally: the local pod runner runs only mloop images '
            f"(<registry>/mloop-<component>:<tag>), by their installed entrypoints"
        )
    command = [expand(str(x), env) for x in container.get("command") or []]
    args = [expand(str(x), env) for x in container.get("args") or []]
    argv = (command or list(ENTRYPOINTS[component])) + args
    if argv and _PYTHON.match(argv[0]):
        argv[0] = sys.executable
    return argv


def base_environment(home: Path) -> dict[str, str]:
    """A minimal environment in which ``sys.executable`` (and its venv) works."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    if os.environ.get("TZ"):
        env["TZ"] = os.environ["TZ"]
    return env


def mount_env_name(volume: str) -> str:
    """``MLOOP_MOUNT_<NAME>``: the variable that tells a process where a volume lives locally."""
    return "MLOOP_MOUNT_" + re.sub(r"[^A-Z0-9]", "_", volume.upper())


def working_dir(container_dir: Path, requested: str | None) -> Path:
    """``workingDir`` if it lies inside the container's private dir, else the same path mapped inside."""
    if not requested:
        return container_dir
    path = Path(requested)
    resolved = Path(os.path.normpath(path))
    if resolved.is_absolute() and resolved.is_relative_to(container_dir):
        return resolved
    relative = os.path.normpath(str(resolved).lstrip("/"))
    if relative in (".", "") or relative.startswith(".."):
        return container_dir
    return container_dir / relative
