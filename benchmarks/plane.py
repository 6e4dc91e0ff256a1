"""The embedded control plane for benchmarks that need pods: every component a child process, as
``mloop local up`` runs them, so the benchmark's own polling never shares a GIL with what it measures.

API emulator, S3 (moto), pod runner, Services proxy and the real operator on 127.0.0.1, plus the few steps
every such benchmark needs: a project with data, a trained version (a real TrainingRun) and Service calls.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml
from minio import Minio

from benchmarks.support import ChildProcess, Rest, RestError, free_port, wait_for
from mloop.local.datasets import credit_csv, credit_frame
from mloop.local.s3 import ACCESS_KEY, SECRET_KEY

__all__ = ["API", "NS", "Plane", "applicant", "embedded_plane", "predict"]

ROOT = Path(__file__).resolve().parents[1]
API = "/apis/mloop.io/v1alpha1/namespaces/default"
NS = "default"
S3_SECRET = "mloop-s3"  # noqa: S105 - the name of a Secret, not a secret
BUCKET = "bench"
DATA_KEY = "datasets/credit.csv"


@dataclass
class Plane:
    """What a benchmark talks to: the API (``rest``), S3, and the processes (for their logs)."""

    home: Path
    rest: Rest
    s3_endpoint: str
    resync_seconds: float
    processes: dict[str, ChildProcess]

    def env_for_workload(self) -> dict[str, str]:
        """What a pod of ours gets for S3 (the operator puts the same into its manifests)."""
        return {
            "MLOOP_S3_ENDPOINT": self.s3_endpoint,
            "MLOOP_S3_SECURE": "false",
            "MLOOP_S3_ACCESS_KEY": ACCESS_KEY,
            "MLOOP_S3_SECRET_KEY": SECRET_KEY,
        }

    def logs(self) -> str:
        """The tail of every component's log, for a crash report."""
        return "\n".join(f"--- {name} ---\n{proc.logs(3000)}" for name, proc in self.processes.items())

    def create_project(self, name: str = "credit", *, policy: str = "auto", rows: int = 1500) -> None:
        """``examples/mlproject.yaml`` with seeded data and one fast candidate (logistic regression)."""
        data = credit_csv(rows, seed=7)
        client = Minio(self.s3_endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)
        client.put_object(BUCKET, DATA_KEY, io.BytesIO(data), len(data))
        body: dict[str, Any] = copy.deepcopy(
            yaml.safe_load((ROOT / "examples" / "mlproject.yaml").read_text())
        )
        body["metadata"] = {"name": name, "namespace": NS}
        spec = body["spec"]
        spec["storage"] = {"bucket": BUCKET}
        spec["data"]["source"]["uri"] = f"s3://{BUCKET}/{DATA_KEY}"
        spec["training"]["candidates"] = [{"algorithm": "logistic_regression", "params": {"max_iter": 500}}]
        spec["problem"]["kpis"] = [{"metric": "roc_auc", "min": 0.7}]
        spec["promotion"]["policy"] = policy
        self.rest.post(f"{API}/mlprojects", body)

    def start_training(self, run: str, project: str = "credit") -> None:
        self.rest.post(
            f"{API}/trainingruns",
            {
                "apiVersion": "mloop.io/v1alpha1",
                "kind": "TrainingRun",
                "metadata": {"name": run, "namespace": NS},
                "spec": {"projectRef": {"name": project}},
            },
        )

    def trained_version(self, run: str, *, timeout: float = 240.0) -> str:
        """Wait for the run's ModelVersion to be judged by the gate; its name (it must have passed)."""

        def version() -> str | None:
            status = self.rest.get(f"{API}/trainingruns/{run}").get("status") or {}
            if status.get("phase") == "Failed":
                raise RuntimeError(f"TrainingRun {run} failed: {status.get('conditions')}")
            name = status.get("modelVersion")
            return str(name) if name else None

        name = wait_for(version, timeout=timeout, interval=0.5, what=f"TrainingRun {run}")

        def validated() -> bool:
            status = self.rest.get(f"{API}/modelversions/{name}").get("status") or {}
            conditions = {c["type"]: c for c in status.get("conditions", [])}
            gate = conditions.get("Validated", {})
            if gate.get("status") == "False":
                raise RuntimeError(f"{name} failed the gate: {gate}")
            return bool(gate.get("status") == "True")

        wait_for(validated, timeout=60, interval=0.3, what=f"{name} validated")
        return name

    def features(self, version: str) -> list[str]:
        """The version's input feature names, in signature order."""
        spec = self.rest.get(f"{API}/modelversions/{version}")["spec"]
        return [str(f["name"]) for f in spec["signature"]["inputs"]]

    def cluster_ip(self, service: str) -> str | None:
        with contextlib.suppress(RestError):
            ip = self.rest.get(f"/api/v1/namespaces/{NS}/services/{service}").get("spec", {}).get("clusterIP")
            return str(ip) if ip and ip != "None" else None
        return None


_HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1.0, read=5.0))


def applicant(features: list[str]) -> bytes:
    """A ``/predict`` body: one seeded applicant in the signature's feature names."""
    row = credit_frame(1, seed=11)[features].to_dict("records")[0]
    return json.dumps(
        {"instances": [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}]}
    ).encode()


def predict(host: str, body: bytes, port: int = 8080) -> str | None:
    """One ``POST /predict`` on a new connection; the version that answered, or None on any failure."""
    try:
        response = _HTTP.request(
            "POST",
            f"http://{host}:{port}/predict",
            body=body,
            headers={"Content-Type": "application/json", "Connection": "close"},
        )
    except (urllib3.exceptions.HTTPError, OSError):
        return None
    if response.status != 200:
        return None
    version = json.loads(response.data).get("version")
    return str(version) if version else None


def _apply_crds(rest: Rest) -> None:
    for path in sorted((ROOT / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                rest.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", doc)
    rest.post(
        f"/api/v1/namespaces/{NS}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": S3_SECRET, "namespace": NS},
            "stringData": {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY},
        },
    )


@contextlib.contextmanager
def embedded_plane(home: Path, *, resync_seconds: float) -> Iterator[Plane]:
    """Start the five components (emulator, S3, pod runner, Services, operator); stop them in reverse."""
    home.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLOOP_", "KUBECONFIG"))}
    kubeconfig = home / "kubeconfig"
    api_port, s3_port, health_port = free_port(), free_port(), free_port()
    s3_endpoint = f"127.0.0.1:{s3_port}"
    procs: dict[str, ChildProcess] = {}
    with contextlib.ExitStack() as stack:

        def start(name: str, argv: list[str], env: dict[str, str] | None = None) -> ChildProcess:
            proc = ChildProcess(argv, {**base, **(env or {})}, home / f"{name}.log").start()
            procs[name] = proc
            stack.callback(proc.stop, 20.0)
            return proc

        api = f"http://127.0.0.1:{api_port}"
        emulator = [
            py,
            "-m",
            "mloop.local.apiserver",
            "--port",
            str(api_port),
            "--kubeconfig",
            str(kubeconfig),
        ]
        start("apiserver", emulator).wait_healthy(f"{api}/_emulator/health")
        start("s3", [py, "-m", "mloop.local.s3", "--port", str(s3_port), "--bucket", BUCKET])
        procs["s3"].wait_healthy(f"http://{s3_endpoint}/{BUCKET}")
        rest = Rest(api)
        stack.callback(rest.close)
        wait_for(kubeconfig.exists, timeout=10, what="the emulator's kubeconfig")
        _apply_crds(rest)
        # Loopback ranges of our own, so a test run or another plane on this host never answers for us.
        subnet = os.getpid() % 254 + 1
        node = ["--home", str(home / "node"), "--restart-backoff-base", "0.5", "--max-grace", "5"]
        node += ["--pod-network", f"127.1.{subnet}.0/24"]
        start("podrunner", [py, "-m", "mloop.local.podrunner", "--kubeconfig", str(kubeconfig), *node])
        cluster_ips = ["--cluster-ip-range", f"127.2.{subnet}.0/24"]
        start("services", [py, "-m", "mloop.local.services", "--kubeconfig", str(kubeconfig), *cluster_ips])
        operator_env = {
            "KUBECONFIG": str(kubeconfig),
            "MLOOP_NAMESPACES": NS,
            "MLOOP_S3_ENDPOINT": s3_endpoint,
            "MLOOP_S3_ACCESS_KEY": ACCESS_KEY,
            "MLOOP_S3_SECRET_KEY": SECRET_KEY,
            "MLOOP_S3_DEFAULT_SECRET": S3_SECRET,
            "MLOOP_HEALTH_HOST": "127.0.0.1",
            "MLOOP_HEALTH_PORT": str(health_port),
            "MLOOP_RESYNC_SECONDS": str(resync_seconds),
            "MLOOP_BACKOFF_BASE_SECONDS": "0.5",
            "MLOOP_BACKOFF_MAX_SECONDS": "3",
        }
        operator = start("operator", [py, "-m", "mloop.operator"], operator_env)
        operator.wait_healthy(f"http://127.0.0.1:{health_port}/healthz")
        time.sleep(0.5)  # the pod runner's and the proxy's first lists
        yield Plane(home, rest, s3_endpoint, resync_seconds, procs)
