"""``make demo``: the whole loop on the embedded control plane, narrated step by step.

Starts ``mloop local up``, applies the examples (sped up: short canary pauses and drift windows), trains and
ships a first model, serves traffic on a local URL, injects drift, and follows the monitor through retraining,
the gate and the canary to promotion; then prints a summary and stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from mloop.artifacts import ArtifactStore
from mloop.cli.kube import Kube
from mloop.cli.kubeconfig import load_connection
from mloop.demo.traffic import TrafficGenerator
from mloop.local.datasets import credit_csv
from mloop.local.supervisor.state import Home, State

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
BUCKET = "mloop-artifacts"
DATA = f"s3://{BUCKET}/datasets/credit/"
NS = "default"


def say(step: str, text: str) -> None:
    print(f"\033[1m[{step}]\033[0m {text}", flush=True)


def wait(what: str, check: Callable[[], T | None], timeout: float = 240.0, interval: float = 1.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise SystemExit(f"demo: timed out after {timeout:.0f}s waiting for {what}")


def cond(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), {})


class Demo:
    def __init__(self, home: Path) -> None:
        self.home = Home.at(home)
        self._kube: Kube | None = None
        self._store: ArtifactStore | None = None
        self.traffic: TrafficGenerator | None = None

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            raise RuntimeError("the control plane is not up")
        return self._kube

    @property
    def store(self) -> ArtifactStore:
        if self._store is None:
            raise RuntimeError("the control plane is not up")
        return self._store

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return self.kube.get(plural, NS, name)

    # -- set-up ----------------------------------------------------------------------------------------

    def up(self) -> None:
        say("setup", f"starting the embedded control plane in {self.home.root} …")
        subprocess.run(
            [sys.executable, "-m", "mloop.cli", "local", "down", "--home", str(self.home.root)],
            capture_output=True,
            check=False,
        )
        subprocess.run(
            [sys.executable, "-m", "mloop.cli", "local", "up", "--home", str(self.home.root)], check=True
        )
        state = State.load(self.home)
        assert state.ports is not None
        self._kube = Kube(load_connection(str(self.home.kubeconfig), None, NS))
        self._store = ArtifactStore(f"127.0.0.1:{state.ports.s3}", "testing", "testing")

    def apply_examples(self) -> None:
        self.store.put_bytes(f"{DATA}part-0001.csv", credit_csv(2000, seed=7), content_type="text/csv")
        say("data", f"uploaded 2,000 credit applications to {DATA}part-0001.csv")
        project = yaml.safe_load((EXAMPLES / "mlproject.yaml").read_text())
        project["spec"]["data"]["source"]["uri"] = DATA
        deployment = yaml.safe_load((EXAMPLES / "modeldeployment.yaml").read_text())
        deployment["spec"]["replicas"] = 4
        deployment["spec"]["canary"] = {
            "steps": [{"weight": 25, "pause": "10s"}, {"weight": 50, "pause": "10s"}],
            "analysis": {"interval": "5s", "minRequests": 20, "maxErrorRate": 0.05, "failureLimit": 2},
        }
        monitor = yaml.safe_load((EXAMPLES / "driftmonitor.yaml").read_text())
        monitor["spec"]["schedule"] = {"interval": "15s"}
        monitor["spec"]["window"] = {"duration": "15s", "minSamples": 100}
        monitor["spec"].pop("performance", None)
        for plural, body in (
            ("mlprojects", project),
            ("modeldeployments", deployment),
            ("driftmonitors", monitor),
        ):
            body.setdefault("metadata", {})["namespace"] = NS
            self.kube.create(plural, NS, body)
        say(
            "apply",
            "applied examples/: MLProject, ModelDeployment (alias: champion) and DriftMonitor credit "
            "(demo timings: canary pauses 10s, drift windows 15s)",
        )

    # -- the loop --------------------------------------------------------------------------------------

    def train(self, run: str, trigger: str = "manual") -> dict[str, Any]:
        if trigger == "manual":
            body = yaml.safe_load((EXAMPLES / "trainingrun.yaml").read_text())
            body["metadata"] = {"name": run, "namespace": NS}
            self.kube.create("trainingruns", NS, body)
        seen: set[str] = set()

        def done() -> dict[str, Any] | None:
            obj = self.get("trainingruns", run)
            for c in obj.get("status", {}).get("conditions", []):
                if c["type"] != "Ready" and c["type"] not in seen and c["status"] in ("True", "False"):
                    seen.add(c["type"])
                    say(run, f"{c['type']}: {c['message']}")
            phase = obj.get("status", {}).get("phase")
            return (
                obj
                if phase == "Failed" or (phase == "Succeeded" and obj["status"].get("modelVersion"))
                else None
            )

        obj = wait(f"TrainingRun {run}", done)
        results = obj["status"].get("results") or {}
        metrics = results.get("metrics") or {}
        say(
            run,
            f"{obj['status']['phase']}: best {results.get('bestCandidate')}, "
            f"test roc_auc={metrics.get('test', {}).get('roc_auc', 0):.3f}, "
            f"baseline {metrics.get('baseline', {}).get('roc_auc', 0):.3f}",
        )
        return obj

    def judged(self, version: str) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            obj = self.get("modelversions", version)
            return obj if obj.get("status", {}).get("stage") in ("champion", "rejected") else None

        obj = wait(f"the gate of {version}", settled)
        status = obj["status"]
        message = cond(obj, "Validated").get("message")
        say(version, f"gate {status['gate']['verdict']}: {message} → stage {status['stage']}")
        return obj

    def serving(self, version: str) -> str:
        def ready() -> bool:
            status = self.get("modeldeployments", "credit").get("status", {})
            return bool(status.get("stableVersion") == version and status.get("readyReplicas", 0) > 0)

        wait(f"{version} serving", ready)
        service = self.kube.request("GET", f"/api/v1/namespaces/{NS}/services/credit")
        url = f"http://{service['spec']['clusterIP']}:8080/predict"
        say("serve", f"{version} is serving at {url}")
        return url

    def follow_canary(self, version: str) -> None:
        shown: set[tuple[Any, ...]] = set()

        def promoted() -> bool:
            md = self.get("modeldeployments", "credit")
            st = md.get("status", {})
            key = (st.get("canaryVersion"), st.get("step"), st.get("canaryWeight"))
            if st.get("canaryVersion") and key not in shown:
                shown.add(key)
                share = st.get("canaryTrafficShare")
                say(
                    "canary",
                    f"{st['canaryVersion']} step {st.get('step')}: weight {st.get('canaryWeight')}%, "
                    f"real share {share if share is None else round(share, 2)}",
                )
            return bool(st.get("stableVersion") == version)

        wait(f"the canary of {version}", promoted, timeout=300)
        history = self.get("modeldeployments", "credit")["status"]["history"]
        say("canary", f"{history[-1]['action']} {history[-1]['toVersion']} ({history[-1]['reason']})")

    def run(self) -> None:
        self.up()
        try:
            self.apply_examples()
            first = self.train("credit-manual-1")
            version = first["status"]["modelVersion"]
            self.judged(version)
            url = self.serving(version)
            inputs = self.get("modelversions", version)["spec"]["signature"]["inputs"]
            features = [f["name"] for f in inputs]
            self.traffic = TrafficGenerator(url, features)
            say("serve", f"example prediction: {json.dumps(self.traffic.predict_one())[:200]}")
            self.traffic.start()
            time.sleep(20)
            say(
                "drift",
                "injecting drift: older, richer applicants whose defaults follow other rules; "
                "their labelled data lands as a new partition",
            )
            self.traffic.drift()
            self.store.put_bytes(f"{DATA}part-0002.csv", credit_csv(2000, seed=8, shift=1.0, concept=1.0))
            run = self.watch_monitor()
            second = self.train(run, trigger="drift")
            new_version = second["status"]["modelVersion"]
            verdict = self.judged(new_version)
            if verdict["status"]["stage"] == "champion":
                self.follow_canary(new_version)
            self.summary()
        finally:
            if self.traffic:
                self.traffic.stop()
            say("teardown", "stopping the embedded control plane …")
            subprocess.run(
                [sys.executable, "-m", "mloop.cli", "local", "down", "--home", str(self.home.root)],
                check=False,
            )

    def watch_monitor(self) -> str:
        seen: set[str] = set()

        def alerted() -> str | None:
            dm = self.get("driftmonitors", "credit")
            st = dm.get("status", {})
            job = st.get("lastCheckJob")
            if job and job not in seen:
                seen.add(job)
                features = ", ".join(
                    f"{f['name']} p={f['pValue']:.1e}" for f in st.get("driftedFeatures", [])[:4]
                )
                say(
                    "drift",
                    f"window {job}: {st.get('samples')} requests, drifted={st.get('drifted')}"
                    f"{' (' + features + ')' if features else ''}, "
                    f"{st.get('consecutiveDriftWindows')} in a row",
                )
            run = st.get("lastRetrainRun")
            return str(run) if run else None

        run = wait("a drift alert", alerted, timeout=300)
        say("retrain", f"the alert created TrainingRun {run} (trigger: drift)")
        return run

    def summary(self) -> None:
        print("\nSummary")
        print(
            f"{'VERSION':<12}{'STAGE':<11}{'ROC_AUC':<9}{'BASELINE':<10}{'VS CHAMPION':<22}{'GATE':<9}REASON"
        )
        reports = self.home.root / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        for v in sorted(self.kube.list("modelversions", NS), key=lambda v: v["metadata"]["name"]):
            st, spec = v.get("status", {}), v["spec"]
            gate = st.get("gate") or {}
            champion = gate.get("champion") or {}
            versus = (
                f"{champion['name']} {champion['value']:.3f} ({champion['delta']:+.3f})"
                if champion.get("name") and champion.get("value") is not None
                else "(first version)"
            )
            test, base = (
                spec["metrics"]["test"].get("roc_auc", 0),
                spec["metrics"]["baseline"].get("roc_auc", 0),
            )
            name = v["metadata"]["name"]
            print(f"{name:<12}{st.get('stage', ''):<11}{test:<9.3f}{base:<10.3f}{versus:<22}", end="")
            print(f"{gate.get('verdict', ''):<9}{gate.get('reason') or ''}")
            if spec.get("reportUri"):
                path = reports / f"{v['metadata']['name']}-report.html"
                path.write_bytes(self.store.get_bytes(spec["reportUri"]))
                print(f"{'':<12}report: {path}")
        md = self.get("modeldeployments", "credit")
        for entry in md["status"].get("history", []):
            moved = f"{entry.get('fromVersion')} → {entry.get('toVersion')}"
            print(f"rollout: {entry['action']} {moved} ({entry['reason']})")
        if self.traffic:
            print(f"traffic: {self.traffic.sent} requests, {self.traffic.failed} failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mloop.demo", description=__doc__)
    parser.add_argument(
        "--home", type=Path, default=Path(".local/demo"), help="where the control plane lives"
    )
    args = parser.parse_args(argv)
    Demo(args.home).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
