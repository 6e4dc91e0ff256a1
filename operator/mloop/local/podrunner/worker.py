"""One pod on this node: its directory, volumes, containers, status writes and log pushes.

The worker is the only writer of its pod's status. Container state changes only mark the status
dirty; a single writer task turns them into one ``/status`` write when the rendered status differs
from the last one written, so bursts of changes cost one request and a quiet pod costs none.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .client import CONFIGMAPS, PODS, SECRETS, ApiClient, ApiError, NotFound
from .containers import ContainerRunner, Launch
from .env import (
    ConfigError,
    ImageNotRunnable,
    base_environment,
    container_argv,
    container_env,
    mount_env_name,
    referenced_sources,
    working_dir,
)
from .process import tail_text
from .status import ContainerView, Terminated, Waiting, format_time, pod_status

__all__ = ["POD_NETWORK", "NodeConfig", "PodWorker"]

log = logging.getLogger(__name__)

LOG_PUSH_LIMIT = 1024 * 1024
UNRUNNABLE = "ImageNotRunnableLocally"
#: Tries (a second apart) for a finished pod's last status; the API refusing it for a minute is an outage.
FINAL_WRITE_ATTEMPTS = 60

#: Pod addresses live on loopback, apart from Service addresses (127.2.0.0/16).
POD_NETWORK = "127.1.0.0/16"


@dataclass(frozen=True)
class NodeConfig:
    """Settings shared by every pod on the node."""

    home: Path
    node_name: str = "mloop-local"
    backoff_base: float = 10.0
    max_grace: float = 30.0
    log_interval: float = 1.0
    pod_network: str = POD_NETWORK  # another range lets two planes share one machine's loopback


def _grace(pod: Mapping[str, Any], cap: float) -> float:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    grace = spec.get("terminationGracePeriodSeconds")
    grace = 30 if grace is None else grace
    if meta.get("deletionGracePeriodSeconds") is not None:
        grace = min(grace, meta["deletionGracePeriodSeconds"])
    return float(max(0, min(grace, cap)))


class PodWorker:
    """Runs one pod's containers until they end for good, the pod is deleted, or the runner stops."""

    def __init__(
        self,
        pod: dict[str, Any],
        pod_ip: str,
        *,
        api: ApiClient,
        config: NodeConfig,
        session: aiohttp.ClientSession,
        on_written: Callable[[dict[str, Any]], None],
    ) -> None:
        meta = pod["metadata"]
        self.pod = pod
        self.uid: str = meta["uid"]
        self.namespace: str = meta.get("namespace", "default")
        self.name: str = meta["name"]
        self.pod_ip = pod_ip
        self.api = api
        self.config = config
        self.on_written = on_written
        self.directory = config.home / "pods" / self.namespace / self.name
        self.restart_policy = str(pod.get("spec", {}).get("restartPolicy") or "Always")
        self.old_status: dict[str, Any] = dict(pod.get("status") or {})
        self.last_written: dict[str, Any] | None = None
        self.reason = self.message = ""
        self.phase: str | None = None
        self.silent = False
        self.gone = False
        self.deleting = False
        self._dirty = asyncio.Event()
        self._pushed: tuple[int, int] | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self.task: asyncio.Task[None] | None = None
        grace = _grace(pod, config.max_grace)
        self.runners = [
            ContainerRunner(
                spec,
                ContainerView(name=spec["name"], image=str(spec.get("image", ""))),
                restart_policy=self.restart_policy,
                directory=self.directory / spec["name"],
                resolve=self._launcher(spec),
                notify=self._dirty.set,
                on_exit=self._on_exit,
                session=session,
                backoff_base=config.backoff_base,
                grace=grace,
                pod_label=f"{self.namespace}/{self.name}",
            )
            for spec in pod.get("spec", {}).get("containers") or []
        ]
        for runner in self.runners:
            runner.pod_ip = pod_ip

    def start(self) -> None:
        """Begin running the pod in the background."""
        self.task = asyncio.ensure_future(self._run())

    async def stop(self, *, deleted: bool, silent: bool = False) -> None:
        """Stop every container (grace, then SIGKILL); ``deleted`` also removes the pod's directory."""
        self.deleting = True
        self.silent = self.silent or silent
        self.gone = self.gone or deleted
        for runner in self.runners:
            runner.stopping.set()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
        if deleted:
            await asyncio.to_thread(shutil.rmtree, self.directory, True)

    # -- the pod's life ------------------------------------------------------------------------

    async def _run(self) -> None:
        await asyncio.to_thread(self._prepare_directory)
        writer = asyncio.ensure_future(self._write_loop())
        pusher = asyncio.ensure_future(self._push_loop())
        try:
            entries = {c.get("name"): c for c in self.old_status.get("containerStatuses") or []}
            if self._refuse_foreign_images():
                active = []
            else:
                active = [r for r in self.runners if r.recover(entries.get(r.name))]
            self._dirty.set()
            results = await asyncio.gather(*(r.run() for r in active), return_exceptions=True)
            for runner, result in zip(active, results, strict=True):
                if isinstance(result, Exception):
                    log.error(
                        "container %s of %s/%s failed in the runner: %r",
                        runner.name,
                        self.namespace,
                        self.name,
                        result,
                    )
        except Exception:
            log.exception("pod %s/%s failed in the runner", self.namespace, self.name)
        finally:
            writer.cancel()
            pusher.cancel()
            if self.deleting and not self.gone:
                views = [r.view for r in self.runners]
                ok = all(isinstance(v.state, Terminated) and v.state.exit_code == 0 for v in views)
                self.phase = "Succeeded" if ok else "Failed"
            # The write loop is gone: the last status (how the containers ended) is retried here, or one
            # refused write leaves the pod Running forever and its Job never completes. Bounded, so a runner
            # shutting down against a dead API still stops.
            for _ in range(FINAL_WRITE_ATTEMPTS):
                if await self._write():
                    break
                await asyncio.sleep(1.0)
            await self._push_logs()

    def _prepare_directory(self) -> None:
        """A pod directory left by a namesake pod (another uid) is wiped, never reused."""
        marker = self.directory / ".uid"
        if marker.exists() and marker.read_text().strip() != self.uid:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)
        marker.write_text(self.uid)

    def _refuse_foreign_images(self) -> bool:
        """Images we cannot run: Never/OnFailure pods fail; Always pods wait (like ImagePullBackOff)."""
        bad = {}
        for runner in self.runners:
            try:
                container_argv(runner.spec, {})
            except ImageNotRunnable as exc:
                bad[runner.name] = str(exc)
        if not bad:
            return False
        self.reason, self.message = UNRUNNABLE, "; ".join(bad.values())
        now = format_time(datetime.datetime.now(datetime.UTC))
        for runner in self.runners:
            if runner.name not in bad:
                runner.view.state = Waiting("ContainerCreating")
            elif self.restart_policy == "Always":
                runner.view.state = Waiting(UNRUNNABLE, bad[runner.name])
            else:
                runner.view.state = Terminated(128, UNRUNNABLE, now, now, bad[runner.name])
        if self.restart_policy != "Always":
            self.phase = "Failed"
        log.info("pod %s/%s: %s", self.namespace, self.name, self.message)
        return True

    def _launcher(self, spec: Mapping[str, Any]) -> Callable[[], Any]:
        async def resolve() -> Launch:
            sources = await self._fetch_sources()
            mounts = await asyncio.to_thread(self._materialize_volumes, sources)
            container_dir = self.directory / spec["name"]
            extra = {
                mount_env_name(m.get("name", "")): str(mounts[m.get("name")] / m.get("subPath", ""))
                for m in spec.get("volumeMounts") or []
                if m.get("name") in mounts
            }
            extra["MLOOP_TERMINATION_LOG"] = str(container_dir / "termination-log")
            base = base_environment(container_dir) | {"HOSTNAME": self.name}
            env = container_env(
                self.pod,
                spec,
                sources,
                pod_ip=self.pod_ip,
                node_name=self.config.node_name,
                base=base,
                extra=extra,
            )
            return Launch(container_argv(spec, env), env, working_dir(container_dir, spec.get("workingDir")))

        return resolve

    async def _fetch_sources(self) -> dict[tuple[str, str], dict[str, str] | None]:
        """Secrets and ConfigMaps the pod reads, fetched fresh before each container start."""
        refs = referenced_sources(self.pod.get("spec") or {})
        for volume in self.pod.get("spec", {}).get("volumes") or []:
            if volume.get("secret"):
                refs.add(("Secret", volume["secret"].get("secretName", "")))
            if volume.get("configMap"):
                refs.add(("ConfigMap", volume["configMap"].get("name", "")))
        sources: dict[tuple[str, str], dict[str, str] | None] = {}
        for kind, name in sorted(refs):
            try:
                obj = await self.api.get(SECRETS if kind == "Secret" else CONFIGMAPS, self.namespace, name)
            except NotFound:
                sources[(kind, name)] = None
                continue
            except ApiError as exc:
                raise ConfigError(f"cannot read {kind.lower()} {name!r}: {exc}") from exc
            data = obj.get("data") or {}
            if kind == "Secret":
                data = {k: base64.b64decode(v).decode("utf-8", errors="replace") for k, v in data.items()}
            sources[(kind, name)] = {str(k): str(v) for k, v in data.items()}
        return sources

    def _materialize_volumes(
        self, sources: Mapping[tuple[str, str], Mapping[str, str] | None]
    ) -> dict[str, Path]:
        """Volumes become directories (configMap and secret keys as files); hostPath is used as is."""
        mounts: dict[str, Path] = {}
        for volume in self.pod.get("spec", {}).get("volumes") or []:
            name = str(volume.get("name", ""))
            target = self.directory / "volumes" / name
            if volume.get("hostPath"):
                mounts[name] = Path(volume["hostPath"].get("path", "/"))
                continue
            target.mkdir(parents=True, exist_ok=True)
            mounts[name] = target
            for kind, key, name_key in (
                ("ConfigMap", "configMap", "name"),
                ("Secret", "secret", "secretName"),
            ):
                spec = volume.get(key)
                if not spec:
                    continue
                data = sources.get((kind, spec.get(name_key, "")))
                if data is None and not spec.get("optional"):
                    raise ConfigError(f'{kind.lower()} "{spec.get(name_key)}" not found')
                items = {i["key"]: i.get("path", i["key"]) for i in spec.get("items") or []} or {
                    k: k for k in data or {}
                }
                for item_key, rel in items.items():
                    if data and item_key in data and ".." not in Path(rel).parts:
                        (target / rel).parent.mkdir(parents=True, exist_ok=True)
                        (target / rel).write_text(data[item_key])
        return mounts

    # -- status and logs -----------------------------------------------------------------------

    def _on_exit(self) -> None:
        self._pushed = None
        self._tasks.add(task := asyncio.ensure_future(self._push_logs()))
        task.add_done_callback(self._tasks.discard)

    def _build(self) -> dict[str, Any]:
        return pod_status(
            self.old_status,
            restart_policy=self.restart_policy,
            views=[r.view for r in self.runners],
            container_ids={r.name: r.container_id for r in self.runners},
            pod_ip=self.pod_ip,
            now=format_time(datetime.datetime.now(datetime.UTC)),
            reason=self.reason,
            message=self.message,
            phase=self.phase,
        )

    async def _write(self) -> bool:
        """Write the status if it changed; False when the API refused it (the write loop tries again)."""
        if self.gone or self.silent:
            return True
        status = self._build()
        if status == self.last_written:
            return True
        try:
            obj = await self.api.replace_status(PODS, self.namespace, self.name, status)
        except NotFound:
            self.gone = True
            return True
        except ApiError as exc:
            log.warning("status of pod %s/%s not written: %s", self.namespace, self.name, exc)
            asyncio.get_running_loop().call_later(1.0, self._dirty.set)
            return False
        self.last_written = self.old_status = status
        self.on_written(obj)
        return True

    async def _write_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(0.02)  # coalesce a burst of changes into one write
            self._dirty.clear()
            await self._write()

    async def _push_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.log_interval)
            await self._push_logs()

    async def _push_logs(self) -> None:
        """Send the first container's log to the emulator when it changed (``kubectl logs``)."""
        if not self.runners or self.gone or self.silent:
            return
        path = self.runners[0].log_path
        try:
            stat = path.stat()
        except OSError:
            return
        marker = (stat.st_size, stat.st_mtime_ns)
        if marker == self._pushed:
            return
        self._pushed = marker
        with contextlib.suppress(ApiError):
            await self.api.put_pod_log(self.namespace, self.name, tail_text(path, LOG_PUSH_LIMIT))
