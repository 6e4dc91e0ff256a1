"""B7: the operator's write and CPU economy, measured on the real operator process (SPEC §6).

A settled object must cost zero writes on resync and a transition at most two; an event must cost at most
3x the CPU of a kopf operator whose handlers do nothing. The same N projects and M update events are played
against mloop (emulator + S3) and against ``benchmarks.noop_operator`` (a fresh emulator), in one run.
"""

from __future__ import annotations

import collections
import copy
import io
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from minio import Minio

from benchmarks.harness import BenchResult, benchmark
from benchmarks.noop_operator import PREFIX as NOOP_PREFIX
from benchmarks.support import USER_AGENT, ChildProcess, Rest, ThreadedApiServer, free_port, wait_for
from mloop.local.s3 import ACCESS_KEY, SECRET_KEY, S3Server

__all__ = ["run_b7"]

ROOT = Path(__file__).resolve().parents[1]
N_PROJECTS = 20
M_UPDATES = 10
RESYNC_SECONDS = 1.0
IDLE_PERIODS = 5
QUIET_SECONDS = 2.0  # no operator write for this long means the operator has settled
SEED = 7
MLOOP_PREFIX = "mloop.io"
PROJECTS = "/apis/mloop.io/v1alpha1/namespaces/default/mlprojects"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
Predicate = Callable[[dict[str, Any]], bool]
GOAL = "writes per transition <= 2; writes per idle resync = 0; CPU per event <= 3x a no-op kopf operator"


@dataclass
class Run:
    """What one operator cost: writes by phase, CPU by phase, and what the writes were."""

    writes_to_ready: int = 0
    writes_to_settled: int = 0
    event_writes_transition: int = 0
    idle_writes: int = 0
    idle_seconds: float = 0.0
    idle_cpu: float = 0.0
    events: int = 0
    event_seconds: float = 0.0
    event_cpu: float = 0.0
    writes_per_event: float = 0.0
    seconds_to_ready: float = 0.0
    breakdown: dict[str, collections.Counter[str]] = field(default_factory=dict)


# -- objects -----------------------------------------------------------------------------------------


def _names() -> list[str]:
    return [f"bench-{i:02d}" for i in range(N_PROJECTS)]


def _project(name: str, bucket: str, uri: str) -> dict[str, Any]:
    """``examples/mlproject.yaml`` pointed at the benchmark's bucket and data object."""
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text()))
    body["metadata"] = {"name": name, "namespace": "default"}
    body["spec"]["storage"] = {"bucket": bucket}
    body["spec"]["data"]["source"]["uri"] = uri
    return body


def _csv(rows: int = 200) -> bytes:
    """A small seeded credit-like table; the operator only checks that it exists."""
    rng = random.Random(SEED)  # noqa: S311 - seeded test data, not cryptography
    lines = ["applicant_id,age,income,purpose,housing,age_band,default"]
    for i in range(rows):
        age = rng.randint(18, 80)
        lines.append(
            f"{i},{age},{rng.randint(10, 200) * 1000},{rng.choice(['car', 'home', 'edu'])},"
            f"{rng.choice(['own', 'rent'])},{age // 20},{int(rng.random() < 0.3)}"
        )
    return ("\n".join(lines) + "\n").encode()


def _apply_crds_and_projects(rest: Rest, bucket: str, uri: str) -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                rest.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", doc)
    for name in _names():
        rest.post(PROJECTS, _project(name, bucket, uri))


def _items(rest: Rest) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = rest.get(PROJECTS)["items"]
    return items


def _ready(obj: dict[str, Any]) -> bool:
    conditions = obj.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _handled_tick(prefix: str) -> Callable[[dict[str, Any]], str | None]:
    """The ``bench/tick`` the operator last handled, read from kopf's diff-base annotation."""

    def tick(obj: dict[str, Any]) -> str | None:
        raw = obj["metadata"].get("annotations", {}).get(f"{prefix}/last-handled-configuration")
        if raw is None:
            return None
        annotations: dict[str, str] = json.loads(raw).get("metadata", {}).get("annotations", {})
        return annotations.get("bench/tick", "")

    return tick


def _all_handled(rest: Rest, tick: Callable[[dict[str, Any]], str | None], value: str) -> bool:
    return all(tick(o) == value for o in _items(rest))


# -- counting ----------------------------------------------------------------------------------------


def _operator_writes(api: ThreadedApiServer, since: int, resources: tuple[str, ...]) -> list[Any]:
    """Write requests after record ``since`` to ``resources``, not made by the benchmark itself."""
    return [
        r
        for r in list(api.server.request_log)[since:]
        if r.verb in WRITE_VERBS and r.resource in resources and r.user_agent != USER_AGENT
    ]


def _describe(records: list[Any]) -> collections.Counter[str]:
    """``{"patch mlprojects/status": 20, ...}``: what the writes were, for the report."""
    return collections.Counter(
        f"{r.verb} {'/'.join(filter(None, (r.resource, r.subresource)))}" for r in records
    )


def _wait_quiet(api: ThreadedApiServer, timeout: float = 20.0) -> None:
    """Wait until the operator made no write for ``QUIET_SECONDS`` (its post-handler bookkeeping is done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mark = len(api.server.request_log)
        time.sleep(QUIET_SECONDS)
        if not _operator_writes(api, mark, ("mlprojects", "events")):
            return
    raise TimeoutError(f"operator still writing after {timeout:.0f} s")


# -- the phases both operators go through -----------------------------------------------------------


def _idle(api: ThreadedApiServer, proc: ChildProcess, run: Run) -> None:
    """``IDLE_PERIODS`` resync periods with nothing to do: writes (should be none) and CPU."""
    mark = len(api.server.request_log)
    cpu0, t0 = proc.cpu_seconds(), time.monotonic()
    time.sleep(IDLE_PERIODS * RESYNC_SECONDS)
    run.idle_cpu, run.idle_seconds = proc.cpu_seconds() - cpu0, time.monotonic() - t0
    writes = _operator_writes(api, mark, ("mlprojects", "events"))
    run.idle_writes = len(writes)
    run.breakdown["idle"] = _describe(writes)


def _events(api: ThreadedApiServer, rest: Rest, proc: ChildProcess, prefix: str, run: Run) -> None:
    """M rounds: annotate every project with ``bench/tick=i``, wait until the operator handled each one."""
    tick = _handled_tick(prefix)
    mark = len(api.server.request_log)
    cpu0, t0 = proc.cpu_seconds(), time.monotonic()
    for i in range(1, M_UPDATES + 1):
        value = str(i)
        for name in _names():
            rest.merge_patch(f"{PROJECTS}/{name}", {"metadata": {"annotations": {"bench/tick": value}}})
        wait_for(
            partial(_all_handled, rest, tick, value),
            timeout=60,
            interval=0.05,
            what=f"tick {i} handled on every project",
        )
    run.event_cpu, run.event_seconds = proc.cpu_seconds() - cpu0, time.monotonic() - t0
    run.events = N_PROJECTS * M_UPDATES
    writes = _operator_writes(api, mark, ("mlprojects", "events"))
    run.writes_per_event = len(writes) / run.events
    run.breakdown["events"] = _describe(writes)


@contextmanager
def _s3(bucket: str, key: str) -> Iterator[str]:
    """moto on 127.0.0.1 with one bucket and the seeded CSV; yields the endpoint."""
    server = S3Server().start()
    try:
        server.create_bucket(bucket)
        data = _csv()
        client = Minio(server.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
        client.put_object(bucket, key, io.BytesIO(data), len(data))
        yield server.endpoint
    finally:
        server.stop()


def _play(
    api: ThreadedApiServer, rest: Rest, proc: ChildProcess, port: int, prefix: str, *, ready: Predicate
) -> Run:
    """The phases both operators go through: start -> every project handled -> settled -> idle -> events."""
    run = Run()
    t0 = time.monotonic()
    with proc:
        try:
            proc.wait_healthy(f"http://127.0.0.1:{port}/healthz")
            wait_for(lambda: all(ready(o) for o in _items(rest)), timeout=60, what="every project handled")
            run.seconds_to_ready = time.monotonic() - t0
            run.writes_to_ready = len(_operator_writes(api, 0, ("mlprojects",)))
            _wait_quiet(api)
            transition = _operator_writes(api, 0, ("mlprojects",))
            run.writes_to_settled = len(transition)
            run.event_writes_transition = len(_operator_writes(api, 0, ("events",)))
            run.breakdown["transition"] = _describe(transition)
            _idle(api, proc, run)
            _events(api, rest, proc, prefix, run)
        except Exception:
            print(proc.logs(), file=sys.stderr)
            raise
    return run


def _measure_mloop(tmp: Path) -> Run:
    """The real ``python -m mloop.operator`` against the emulator and S3."""
    bucket, key = "bench-b7", "datasets/credit.csv"
    with _s3(bucket, key) as endpoint, ThreadedApiServer(tmp / "mloop") as api:
        rest = Rest(api.url)
        try:
            _apply_crds_and_projects(rest, bucket, f"s3://{bucket}/{key}")
            api.server.clear_request_log()
            port = free_port()
            env = {
                **os.environ,
                "KUBECONFIG": str(api.kubeconfig),
                "MLOOP_NAMESPACES": "default",
                "MLOOP_S3_ENDPOINT": endpoint,
                "MLOOP_S3_ACCESS_KEY": ACCESS_KEY,
                "MLOOP_S3_SECRET_KEY": SECRET_KEY,
                "MLOOP_HEALTH_HOST": "127.0.0.1",
                "MLOOP_HEALTH_PORT": str(port),
                "MLOOP_RESYNC_SECONDS": str(RESYNC_SECONDS),
                "MLOOP_LOG_LEVEL": "INFO",
            }
            proc = ChildProcess([sys.executable, "-m", "mloop.operator"], env, tmp / "mloop-operator.log")
            return _play(api, rest, proc, port, MLOOP_PREFIX, ready=_ready)
        finally:
            rest.close()


def _measure_noop(tmp: Path) -> Run:
    """``benchmarks.noop_operator`` on a fresh emulator with the same projects and the same events."""
    with ThreadedApiServer(tmp / "noop") as api:
        rest = Rest(api.url)
        try:
            _apply_crds_and_projects(rest, "bench-b7", "s3://bench-b7/datasets/credit.csv")
            api.server.clear_request_log()
            port = free_port()
            env = {**os.environ, "KUBECONFIG": str(api.kubeconfig)}
            argv = [sys.executable, "-m", "benchmarks.noop_operator", "--port", str(port)]
            proc = ChildProcess([*argv, "--namespace", "default"], env, tmp / "noop-operator.log")
            tick = _handled_tick(NOOP_PREFIX)
            return _play(api, rest, proc, port, NOOP_PREFIX, ready=lambda o: tick(o) is not None)
        finally:
            rest.close()


def _per_event(run: Run, *, net_of_idle: bool) -> float:
    cpu = run.event_cpu
    if net_of_idle and run.idle_seconds > 0:
        cpu = max(cpu - run.idle_cpu / run.idle_seconds * run.event_seconds, 0.0)
    return cpu / run.events


@benchmark("B7", "Operator writes and CPU per event")
def run_b7() -> BenchResult:
    """Measure mloop, then the no-op floor, then judge the ratios."""
    with tempfile.TemporaryDirectory(prefix="mloop-b7-") as tmp:
        mloop = _measure_mloop(Path(tmp))
        noop = _measure_noop(Path(tmp))
    per_transition = mloop.writes_to_settled / N_PROJECTS
    per_resync = mloop.idle_writes / (N_PROJECTS * IDLE_PERIODS)
    cpu_ratio = _per_event(mloop, net_of_idle=False) / max(_per_event(noop, net_of_idle=False), 1e-9)
    net_noop = _per_event(noop, net_of_idle=True)
    net_ratio = _per_event(mloop, net_of_idle=True) / net_noop if net_noop > 0 else float("nan")
    measured: dict[str, tuple[float, str]] = {
        "projects": (N_PROJECTS, "objects"),
        "update_events": (mloop.events, "events"),
        "resync_period": (RESYNC_SECONDS, "s"),
        "mloop_writes_create_to_ready": (mloop.writes_to_ready, "writes"),
        "mloop_writes_create_to_settled": (mloop.writes_to_settled, "writes"),
        "mloop_event_objects_written_on_transition": (mloop.event_writes_transition, "writes"),
        "mloop_seconds_to_all_ready": (mloop.seconds_to_ready, "s"),
        "mloop_idle_writes": (mloop.idle_writes, "writes"),
        "mloop_idle_cpu_per_second": (mloop.idle_cpu / mloop.idle_seconds, "cpu-s/s"),
        "noop_idle_cpu_per_second": (noop.idle_cpu / noop.idle_seconds, "cpu-s/s"),
        "mloop_cpu_per_event": (_per_event(mloop, net_of_idle=False) * 1000, "cpu-ms"),
        "noop_cpu_per_event": (_per_event(noop, net_of_idle=False) * 1000, "cpu-ms"),
        "mloop_cpu_per_event_net_of_idle": (_per_event(mloop, net_of_idle=True) * 1000, "cpu-ms"),
        "noop_cpu_per_event_net_of_idle": (net_noop * 1000, "cpu-ms"),
        "mloop_event_phase": (mloop.event_seconds, "s"),
        "noop_event_phase": (noop.event_seconds, "s"),
        "mloop_writes_per_event": (mloop.writes_per_event, "writes"),
        "noop_writes_per_event": (noop.writes_per_event, "writes"),
        "noop_writes_create_to_settled": (noop.writes_to_settled, "writes"),
    }
    notes = [
        "cpu_per_event_vs_noop (judged) counts all operator CPU during the event phase, including mloop's "
        f"{RESYNC_SECONDS:g} s resync loop; the net_of_idle ratio subtracts each operator's idle CPU rate"
    ]
    notes += [
        f"{who} {phase} writes: {dict(counter)}"
        for who, run in (("mloop", mloop), ("noop", noop))
        for phase, counter in run.breakdown.items()
        if counter
    ]
    return BenchResult(
        id="B7",
        title="Operator writes and CPU per event",
        measured={k: (float(v), unit) for k, (v, unit) in measured.items()},
        ratios={
            "writes_per_transition": per_transition,
            "writes_per_idle_resync": per_resync,
            "cpu_per_event_vs_noop": cpu_ratio,
            "cpu_per_event_vs_noop_net_of_idle": net_ratio,
        },
        goal=GOAL,
        met=per_transition <= 2 and per_resync == 0 and cpu_ratio <= 3,
        notes=notes,
    )
