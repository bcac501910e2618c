"""End to end: the Prefect monitoring example served by a real ``prefect server start``.

The test starts a real Prefect server (the virtualenv's ``prefect`` command) on a free port, in
a process group of its own, with a temporary PREFECT_HOME, and waits until ``/api/health``
answers. As a user would, against that server (``PREFECT_API_URL``) and a temporary
AIMOPS_HOME, it then starts ``python dags_examples/flows/monitor_flow.py --serve`` (its own
process group too), runs ``train_flow.py`` (a version registered in the local MLflow) and
``monitor_flow.py --simulate-only --latency-regression-ms 900`` (a slow day of its serving).
The serve process makes the deployment ``monitor_model_prefect/monitor`` on its schedule; the
test triggers a run of it through the API, as the UI's "Quick run" does, and waits until the
run ends. The run is executed by the serve process, in a process of its own, and what a user
notices is checked: the run ``Failed`` on its health check alone, captured in the AIM store
with that status and its four checks recorded, the alert written, and the checks' artifacts in
Prefect's API. Last, the serve process and the server are stopped by their process groups
(SIGTERM, then SIGKILL), and nothing of them is left, nor listening on the port; the fixture
stops them whatever happened.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "dags_examples" / "flows"
PREFECT = Path(sys.executable).with_name("prefect")
DEPLOYMENT = "monitor_model_prefect/monitor"
#: Once a year: no scheduled run comes during the test, only the one it triggers.
YEARLY = "0 6 1 1 *"
VERSION = "breast_cancer_classifier/1"
CHECKS = ("data_quality", "drift", "feature_consistency", "health")
START_TIMEOUT = 60.0
RUN_TIMEOUT = 90.0
STOP_GRACE = 10.0
#: Variables of this machine that would point the examples at another store, MLflow or alert.
FOREIGN = ("AIMOPS_STORE_URL", "AIMOPS_CAPTURE", "AIMOPS_SERVING_LOGS", "AIMOPS_ALERT_LOG",
           "AIMOPS_ALERT_WEBHOOK", "AIMOPS_ROUTER", "AIMOPS_AIRFLOW_URL", "MLFLOW_TRACKING_URI",
           "MLFLOW_REGISTRY_URI")  # fmt: skip

if not PREFECT.exists():
    pytest.skip(f"needs the prefect command beside {sys.executable}", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts connections on the local ``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(condition: Callable[[], Any], timeout: float, what: str, step: float = 0.25) -> Any:
    """``condition()``'s first truthy answer, asked every ``step`` s; fails after ``timeout`` s
    naming ``what``."""
    deadline = time.monotonic() + timeout
    while not (answer := condition()):
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(step)
    return answer


@dataclass
class Group:
    """A command started in a process group of its own (it and everything it starts), its
    output in ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, command: list[str], env: dict[str, str], log: Path) -> Group:
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return cls(name, process, log)

    def alive(self) -> bool:
        return self.process.poll() is None

    def members(self) -> list[psutil.Process]:
        """The group's live processes (zombies are gone: only their parent can reap them)."""
        found = []
        for process in psutil.process_iter():
            try:
                if os.getpgid(process.pid) == self.process.pid and (
                    process.status() != psutil.STATUS_ZOMBIE
                ):
                    found.append(process)
            except (psutil.Error, ProcessLookupError):
                continue
        return found

    def stop(self) -> list[str]:
        """SIGTERM to the group, SIGKILL to what is left after :data:`STOP_GRACE` s; the
        command lines of any survivor."""
        for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while self.members() and time.monotonic() < deadline:
                self.process.poll()  # reap our own child, or it stays a member as a zombie
                time.sleep(0.1)
            if not self.members():
                break
        self.process.poll()
        return [" ".join(p.cmdline()) for p in self.members()]


@dataclass
class PrefectServer:
    """A real Prefect server, and what its users share: the environment, the AIM home."""

    port: int
    env: dict[str, str]
    aimops_home: Path
    logs: Path
    groups: list[Group]

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def healthy(self) -> bool:
        server = self.groups[0]
        assert server.alive(), f"prefect server exited:\n{tail(server.log)}"
        try:
            with urllib.request.urlopen(f"{self.api}/health", timeout=2) as answer:
                return bool(answer.status == 200 and json.load(answer) is True)
        except OSError:
            return False

    def start(self, name: str, *arguments: str) -> Group:
        """``python <arguments>`` (an example), left running in a group of its own."""
        group = Group.start(name, [sys.executable, *arguments], self.env, self.logs / f"{name}.log")
        self.groups.append(group)
        return group

    def run(self, name: str, *arguments: str) -> str:
        """``python <arguments>`` to its end, which must be a success: what it printed."""
        group = self.start(name, *arguments)
        try:
            code = group.process.wait(timeout=RUN_TIMEOUT)
        finally:
            assert not group.stop(), f"{name} left processes behind"
        assert code == 0, f"{name} exited {code}:\n{tail(group.log)}"
        return group.log.read_text(errors="replace")

    def client(self) -> Any:
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api)


def isolated_env(tmp_path: Path, port: int) -> dict[str, str]:
    """This process's environment without Prefect's settings or foreign aimops ones, with a
    temporary PREFECT_HOME and AIMOPS_HOME, the server's API, no telemetry, a runner that
    looks for work every second."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k not in FOREIGN}
    (tmp_path / "prefect").mkdir()
    return {
        **env,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "DO_NOT_TRACK": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "AIMOPS_HOME": str(tmp_path / "aimops"),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def real_prefect_server(tmp_path: Path) -> Iterator[PrefectServer]:
    """``prefect server start`` on a free port, healthy; stopped afterwards with everything
    the test started, whatever happened."""
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    env = isolated_env(tmp_path, port)
    command = [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = PrefectServer(port, env, Path(env["AIMOPS_HOME"]), logs, [])
    server.groups.append(Group.start("server", command, env, logs / "server.log"))
    try:
        wait_until(server.healthy, START_TIMEOUT, "the Prefect server was not healthy")
        yield server
    finally:
        # The served flow first: it pauses its schedule on the server as it stops.
        survivors = {g.name: g.stop() for g in reversed(server.groups)}
        assert not any(survivors.values()), f"processes survived the stop: {survivors}"


def read_run(server: PrefectServer, flow_run_id: Any) -> Any:
    """The flow run once it has ended."""
    with server.client() as client:
        run = client.read_flow_run(flow_run_id)
    return run if run.state is not None and run.state.is_final() else None


def trigger_served_run(server: PrefectServer, serving: Group) -> Any:
    """Wait for the serve process's deployment (on its schedule), trigger a run of it (no
    Evidently report: quicker) and wait for the run's end; the ended run."""

    def deployment() -> Any:
        from prefect.exceptions import ObjectNotFound

        assert serving.alive(), f"the serve process exited:\n{tail(serving.log)}"
        with server.client() as client:
            try:
                return client.read_deployment_by_name(DEPLOYMENT)
            except ObjectNotFound:
                return None

    served = wait_until(deployment, START_TIMEOUT, f"no deployment {DEPLOYMENT}")
    assert [s.schedule.cron for s in served.schedules] == [YEARLY]
    with server.client() as client:
        run = client.create_flow_run_from_deployment(
            served.id, parameters={"evidently_report": False}
        )
    return wait_until(lambda: read_run(server, run.id), RUN_TIMEOUT, "the run did not end", 0.5)


def flow_run_processes(serving: Group) -> list[psutil.Process]:
    """The processes the serve process runs flow runs in (multiprocessing's spawned children)."""
    try:
        children = psutil.Process(serving.process.pid).children()
    except psutil.Error:
        return []
    running = []
    for child in children:
        try:
            if "spawn_main" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                running.append(child)
        except psutil.Error:
            continue
    return running


def check_aim_store(server: PrefectServer, flow_run_id: str) -> None:
    """The served run as the capture recorded it, its four checks, and the alert."""
    from aimops.metadata.store import AimStore
    from aimops.monitors.checks.recording import list_checks

    run = f"urn:aim:run:prefect/monitor_model_prefect/{flow_run_id}"
    with AimStore.open(f"sqlite:///{server.aimops_home / 'aim.db'}", create=False) as store:
        info = store.get_aspect(run, "runInfo").value
        checks = list_checks(store, model="breast_cancer_classifier")
    assert (info["status"], info["run_type"]) == ("failed", "deployment"), info
    recorded = {c["urn"].rsplit("/", 1)[1]: c["status"] for c in checks if flow_run_id in c["urn"]}
    assert recorded == {"data_quality": "pass", "drift": "pass", "feature_consistency": "pass",
                        "health": "fail"}  # fmt: skip
    lines = (server.aimops_home / "alerts.log").read_text().splitlines()
    alerts = [alert for alert in map(json.loads, lines) if alert["record"] == "alert"]
    assert [alert["title"] for alert in alerts] == ["monitor_model_prefect.health failed"]


def check_artifacts(server: PrefectServer, flow_run_id: str) -> None:
    """Each check's summary, table and link, as Prefect's UI lists them for the run."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with server.client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    by_key = {artifact.key: artifact for artifact in found}
    for kind in ("data-quality", "drift", "feature-consistency", "health"):
        key = f"aimops-{kind}-breast-cancer-classifier"
        assert {key, f"{key}-table", f"{key}-link"} <= set(by_key), sorted(by_key)
        verdict = "fail" if kind == "health" else "pass"
        assert f"**Verdict: {verdict}**" in by_key[key].data, by_key[key].data
    assert "p99 latency" in by_key["aimops-health-breast-cancer-classifier"].data


def test_the_monitoring_flow_served_by_a_real_prefect_server(
    real_prefect_server: PrefectServer,
) -> None:
    server = real_prefect_server
    began = time.monotonic()
    with server.client() as client:  # aimops is a Prefect collection: the server registered
        block_type = client.read_block_type_by_slug("aimops-store")  # its block, unsaved
    assert block_type.name == "AIM store"
    serving = server.start("serve", str(EXAMPLES / "monitor_flow.py"), "--serve", "--cron", YEARLY)
    trained = server.run("train", str(EXAMPLES / "train_flow.py"))
    assert f"model version  urn:aim:modelVersion:{VERSION}" in trained
    simulated = server.run(
        "simulate", str(EXAMPLES / "monitor_flow.py"), "--simulate-only",
        "--latency-regression-ms", "900",
    )  # fmt: skip
    assert f"serving/{VERSION}/" in simulated

    run = trigger_served_run(server, serving)
    assert run.state.name == "Failed", (run.state, tail(serving.log))
    assert run.state.message == f"failed checks of {VERSION}: health"
    check_artifacts(server, str(run.id))
    # The run's state is final before its process has exited; a serve process stopped then
    # cancels the run it still holds. A user stops it once it is idle.
    wait_until(lambda: not flow_run_processes(serving), RUN_TIMEOUT, "the run's process stayed")

    for group in reversed(server.groups):
        assert not group.stop(), f"{group.name} left processes behind"
    assert not listening(server.port), f"something still listens on port {server.port}"
    check_aim_store(server, str(run.id))  # as the run left it: stopping changed nothing
    print(f"served monitoring end to end in {time.monotonic() - began:.1f} s")
