"""End to end: real ``airflow standalone`` runs the example DAGs, and aimops captures them.

The controller ``airflow_local`` (``scripts/airflow_local``, installed into the virtualenv as a
dev dependency) starts Airflow in a temporary AIRFLOW_HOME on a free port, with MLflow's web UI
beside it, a temporary DAGs folder holding the four examples and a temporary AIMOPS_HOME. The
test waits for health and for the DAG to be parsed, unpauses and triggers ``train_model``
through REST API v2, waits for success, clears the whole run as a user would and waits for
every task's second try, and opens the train task's "MLflow run" link in the MLflow UI that
was started. Then it runs the other examples in the order a user might: ``monitor_model``
right after training (nothing served yet: it skips its checks and succeeds, triggered and
scheduled), the evaluation example (its "AIM report" link opened as the UI would), the serving
simulator with a latency regression, ``monitor_model`` again, whose health check fails
and alerts, and last ``ramp_model``: the @candidate version, published, rolled out to 100%,
its bake waiting on the real triggerer (the task seen ``deferred``, then resumed in try 1).
Every task's log is read through the REST API: no warning flood. Then it stops
Airflow, checks that no process of its group or home (MLflow's UI included) survives, and
reads the AIM store: the run (ended by the scheduler's listener), one step per task with two
attempts (captured in each task's own process), the MLflow link, the lineage to the model
versions, and the deployment the ramp left (the version champion at 100%, as the traffic
file says too). Airflow is stopped in the fixture's teardown too, whatever happens.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit
from urllib.request import urlopen

import airflow_local
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "train_model"
EXAMPLE = REPO / "dags_examples" / "train_model.py"
EVALUATION_DAG = "evaluate_models"
EVALUATION_EXAMPLE = REPO / "dags_examples" / "evaluate_models.py"
SIMULATOR_DAG, MONITOR_DAG = "simulate_serving", "monitor_model"
MONITORING_EXAMPLES = tuple(
    REPO / "dags_examples" / f"{name}.py" for name in (SIMULATOR_DAG, MONITOR_DAG)
)
RAMP_DAG = "ramp_model"
RAMP_EXAMPLE = REPO / "dags_examples" / "ramp_model.py"
MODEL = "breast_cancer_classifier"
#: One short step: the deployment has no champion yet, so the ramp is an initial rollout
#: (its schedule forced to [100]): one bake on the triggerer, one analysis, promoted.
RAMP_CONF = {"bake_seconds": 5, "requests": 2000}
RAMP_POLL = 0.5
START_TIMEOUT = 120.0
PARSE_TIMEOUT = 60.0
RUN_TIMEOUT = 240.0
TASKS = ("load_data", "validate_data", "train", "register_model")
CHECK_TASKS = ("data_quality", "drift", "feature_consistency", "health")
#: A task log with this many lines mentioning a warning is a flood (skops' was ~1,160).
WARNING_FLOOD = 5


if importlib.util.find_spec("airflow") is None:
    pytest.skip("needs Airflow (aimops[airflow])", allow_module_level=True)


def check_aim_store(aimops_home: Path, dag_id: str, run_id: str) -> None:
    """The run as the capture recorded it from the task processes and the scheduler."""
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import run_urn, step_urn

    assert not (aimops_home / "spool" / "events.jsonl").exists(), "events were spooled"
    with AimStore.open(f"sqlite:///{aimops_home / 'aim.db'}", create=False) as store:
        run = run_urn("airflow", dag_id, run_id)
        info = store.get_aspect(run, "runInfo").value
        assert (info["status"], info["run_type"]) == ("success", "manual")  # the scheduler's
        steps = {e.urn for e in store.related(run, "partOf", incoming=True)}
        assert steps == {str(step_urn("airflow", dag_id, run_id, task)) for task in TASKS}
        for task in TASKS:  # the clear made each task's second try, not a second step
            tries = store.get_aspect(step_urn("airflow", dag_id, run_id, task), "stepAttempts")
            attempts = tries.value["attempts"]
            assert [(a["try_number"], a["state"]) for a in attempts] == [
                (1, "success"),
                (2, "success"),
            ]
        train = step_urn("airflow", dag_id, run_id, "train")
        assert store.get_aspect(train, "mlflowRun") is not None
        good = store.search("step", where=[("metrics.test_auroc", ">", 0.9)])
        assert [e.urn for e in good] == [str(train)]  # MLflow's metrics, searchable in AIM
        graph = store.lineage("urn:aim:dataset:breast_cancer_train", direction="downstream")
        versions = sorted(n.urn for n in graph.nodes if n.type == "modelVersion")
        # Registering again is a new MLflow version, made by the same step's second try.
        assert versions == [
            "urn:aim:modelVersion:breast_cancer_classifier/1",
            "urn:aim:modelVersion:breast_cancer_classifier/2",
        ]
        register = str(step_urn("airflow", dag_id, run_id, "register_model"))
        for version in versions:
            assert [e.urn for e in store.related(version, "producedBy")] == [register]
        # raw, train, test and the model artifact: once each, clear or not (and the two sized
        # splits of the evaluation example, the monitored day's request log and feature
        # snapshot, and the reference data the simulator registered)
        assert (store.count("dataset"), store.count("artifact")) == (7, 2)
        assert info["ended_at"] is not None


def check_evaluation_report(client: airflow_local.AirflowClient) -> None:
    """The evaluation example runs under the scheduler, and its comparison's "AIM report"
    link opens the interactive report from the API server, for a signed-in user only."""
    client.wait_for_dag(EVALUATION_DAG, timeout=PARSE_TIMEOUT)
    assert client.set_paused(EVALUATION_DAG, False).is_paused is False
    run_id = client.trigger(EVALUATION_DAG, {}).dag_run_id
    state = client.wait_for_run(EVALUATION_DAG, run_id, timeout=RUN_TIMEOUT, out=print)
    assert state == "success", f"{EVALUATION_DAG} ended {state}: " + str(
        client.task_states(EVALUATION_DAG, run_id)
    )
    check_quiet_logs(client, EVALUATION_DAG, run_id)
    run_path = f"/api/v2/dags/{EVALUATION_DAG}/dagRuns/{quote(run_id, safe='')}"
    task = f"{run_path}/taskInstances/compare_with_champion"
    link = client.request("GET", f"{task}/links")["extra_links"]["AIM report"]
    returned = client.request("GET", f"{task}/xcomEntries/return_value")["value"]
    assert returned.startswith("urn:aim:evaluation:airflow/evaluate_models/")
    assert unquote(urlsplit(link).path) == f"/aimops/evaluations/{returned}"
    page_path = urlsplit(link).path
    status, page = client.get_page(page_path)
    assert status == 200, page[:500]
    assert "breast_cancer_classifier" in page and 'id="aimops-data"' in page
    status, _ = client.get_page(page_path, auth=False)
    assert status == 401


def check_quiet_logs(client: airflow_local.AirflowClient, dag_id: str, run_id: str) -> None:
    """Every task that ran has a log (read as the UI reads it), with no warning flood."""
    run_path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
    instances = client.request("GET", f"{run_path}/taskInstances")["task_instances"]
    read = 0
    for ti in instances:
        if not ti["try_number"]:
            continue  # skipped by the scheduler without running: no log
        path = f"{run_path}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}"
        lines = client.request("GET", f"{path}?full_content=true")["content"]
        text = [json.dumps(line) for line in lines]
        ran = any("::group::Pre Execute" in line for line in text)
        assert ran or ti["state"] == "skipped", f"no log of {dag_id}.{ti['task_id']}: {text}"
        warned = [line for line in text if "Warning" in line]
        assert len(warned) < WARNING_FLOOD, (dag_id, ti["task_id"], len(warned), warned[:3])
        read += ran
    assert read, f"no task of {dag_id} {run_id} ran"


def task_log(
    client: airflow_local.AirflowClient, dag_id: str, run_id: str, task: str, last: str
) -> str:
    """The text of the task's first try, once it holds ``last`` (its last words)."""
    lines = client.task_log(dag_id, run_id, task, until=[last])
    return "\n".join(str(line.get("event", "")) for line in lines)


def check_mlflow_link(client: airflow_local.AirflowClient, mlflow_ui: str, run_path: str) -> None:
    """The train task's "MLflow run" link opens the run in the MLflow UI ``start`` started;
    no "AIM step" link is listed without AIMOPS_UI_URL (it would point nowhere)."""
    links = client.request("GET", f"{run_path}/taskInstances/train/links")["extra_links"]
    assert "AIM step" not in links
    link = links["MLflow run"]
    assert link.startswith(f"{mlflow_ui}/#/experiments/"), link
    page, _, route = link.partition("#")
    with urlopen(page, timeout=30) as response:  # the UI's page (the run is in the fragment)
        assert response.status == 200 and "text/html" in response.headers["Content-Type"]
    _, experiment_id, _, mlflow_run_id = route.strip("/").split("/")
    with urlopen(f"{mlflow_ui}/api/2.0/mlflow/runs/get?run_id={mlflow_run_id}", timeout=30) as got:
        assert got.status == 200
        info = json.load(got)["run"]["info"]
    assert (info["run_id"], info["experiment_id"]) == (mlflow_run_id, experiment_id)
    load_links = client.request("GET", f"{run_path}/taskInstances/load_data/links")
    assert not load_links["extra_links"]["MLflow run"]  # no MLflow run, no link


def check_monitoring_right_after_training(client: airflow_local.AirflowClient) -> None:
    """A user who monitors right after training (train_model moved @candidate to a version
    nothing served yet) gets runs that skip their checks and succeed: the one they trigger and
    the one the scheduler adds when they unpause the DAG; the log says what to run."""
    client.wait_for_dag(MONITOR_DAG, timeout=PARSE_TIMEOUT)
    assert client.set_paused(MONITOR_DAG, False).is_paused is False  # @daily: it runs now
    triggered = client.trigger(MONITOR_DAG, {}).dag_run_id
    deadline = time.monotonic() + PARSE_TIMEOUT
    while True:
        runs = client.request("GET", f"/api/v2/dags/{MONITOR_DAG}/dagRuns")["dag_runs"]
        scheduled = [run["dag_run_id"] for run in runs if run["run_type"] == "scheduled"]
        if scheduled:
            break
        assert time.monotonic() < deadline, "the scheduler made no run of the monitoring DAG"
        time.sleep(1)
    skipped = dict.fromkeys(("find_serving_day", *CHECK_TASKS), "skipped")
    for run_id in (triggered, *scheduled):
        state = client.wait_for_run(MONITOR_DAG, run_id, timeout=RUN_TIMEOUT, out=print)
        states = client.task_states(MONITOR_DAG, run_id)
        assert (state, states) == ("success", skipped), (run_id, state, states)
        check_quiet_logs(client, MONITOR_DAG, run_id)
    said = "nothing to check: no day of serving of breast_cancer_classifier/2 "
    log = task_log(client, MONITOR_DAG, triggered, "find_serving_day", said)
    assert said in log and "simulate_serving writes one" in log, log[-2000:]


def check_monitoring_of_a_served_day(
    client: airflow_local.AirflowClient, aimops_home: Path
) -> None:
    """The simulator writes a day with a latency regression; the next monitor_model run fails
    the health check alone, alerts, and links to the check's page and Evidently's report."""
    client.wait_for_dag(SIMULATOR_DAG, timeout=PARSE_TIMEOUT)
    assert client.set_paused(SIMULATOR_DAG, False).is_paused is False
    simulated = client.trigger(SIMULATOR_DAG, {"latency_regression_ms": 900}).dag_run_id
    state = client.wait_for_run(SIMULATOR_DAG, simulated, timeout=RUN_TIMEOUT, out=print)
    assert state == "success", client.task_states(SIMULATOR_DAG, simulated)
    check_quiet_logs(client, SIMULATOR_DAG, simulated)
    run_id = client.trigger(MONITOR_DAG, {}).dag_run_id
    state = client.wait_for_run(MONITOR_DAG, run_id, timeout=RUN_TIMEOUT, out=print)
    states = client.task_states(MONITOR_DAG, run_id)
    assert state == "failed" and states == {
        "find_serving_day": "success",
        "data_quality": "success",
        "drift": "success",
        "feature_consistency": "success",
        "health": "failed",
    }, states
    check_quiet_logs(client, MONITOR_DAG, run_id)
    run_path = f"/api/v2/dags/{MONITOR_DAG}/dagRuns/{quote(run_id, safe='')}"
    health_links = client.request("GET", f"{run_path}/taskInstances/health/links")["extra_links"]
    status, page = client.get_page(urlsplit(health_links["AIM check"]).path)
    assert status == 200 and "latency_p99_max_ms" in page, page[:500]
    assert client.get_page(urlsplit(health_links["AIM check"]).path, auth=False)[0] == 401
    drift_links = client.request("GET", f"{run_path}/taskInstances/drift/links")["extra_links"]
    evidently = urlsplit(drift_links["Evidently report"])
    status, report = client.get_page(f"{evidently.path}?{evidently.query}")
    assert status == 200 and report.lstrip().lower().startswith("<!doctype html")
    (alert,) = [
        json.loads(line)
        for line in (aimops_home / "alerts.log").read_text().splitlines()
        if json.loads(line)["record"] == "alert"
    ]
    assert alert["title"] == "monitor_model.health failed"
    assert "p99 latency" in alert["message"] and "ms > 500 ms" in alert["message"]


def mlflow_alias(mlflow_ui: str, alias: str) -> str | None:
    """The version number ``breast_cancer_classifier@<alias>`` names in MLflow's registry (as
    its UI's REST API answers), or None when the alias names none."""
    url = f"{mlflow_ui}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias={alias}"
    try:
        with urlopen(url, timeout=30) as got:
            return str(json.load(got)["model_version"]["version"])
    except OSError:  # HTTPError 404: no such alias
        return None


def publish_directly(aimops_home: Path, version: str) -> None:
    """Make the model version ``published`` in the run's AIM store.

    Publishing through review (request_review, approve, publish) needs recorded evidence
    (evaluations, comparisons, checks under the review policy) that this run does not make,
    so the test writes the ``lifecycle`` aspect a publish would leave, directly. The version
    itself is already recorded: the capture ran ``record_model_version`` when register_model
    returned it."""
    from datetime import UTC, datetime

    from aimops.metadata.lifecycle.queries import lifecycle_state
    from aimops.metadata.store import AimStore

    urn = f"urn:aim:modelVersion:{MODEL}/{version}"
    with AimStore.open(f"sqlite:///{aimops_home / 'aim.db'}", create=False) as store:
        assert store.get_entity(urn) is not None, f"{urn} was not captured"
        store.put_aspect(urn, "lifecycle", {
            "state": "published", "transition": "publish", "previous": "publishable",
            "actor": "e2e", "at": datetime.now(UTC),
        })  # fmt: skip
        assert lifecycle_state(store, urn) == "published"


def check_ramp_on_the_triggerer(client: airflow_local.AirflowClient, version: str) -> str:
    """ramp_model rolls ``version`` out; its bake waits on the real triggerer: the ``ramp``
    task is seen ``deferred`` (no worker slot held), then resumes and succeeds in its first
    try (a deferral is no retry), its log showing the step's analysis and the promotion.
    Returns the run's id."""
    health = client.health()
    assert health.triggerer.status == "healthy", f"no triggerer: {health}"
    client.wait_for_dag(RAMP_DAG, timeout=PARSE_TIMEOUT)
    assert client.set_paused(RAMP_DAG, False).is_paused is False
    run_id = client.trigger(RAMP_DAG, {**RAMP_CONF, "version": version}).dag_run_id
    run_path = f"/api/v2/dags/{RAMP_DAG}/dagRuns/{quote(run_id, safe='')}"
    seen: list[str | None] = []  # the ramp task's states, each change once
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        try:
            ti = client.request("GET", f"{run_path}/taskInstances/ramp")
        except airflow_local.AirflowApiError as exc:  # 404 until the run's TIs are made
            if exc.status != 404:
                raise
            ti = {"state": None}
        if not seen or seen[-1] != ti["state"]:
            seen.append(ti["state"])
            print(f"ramp: {ti['state']}")
        state = client.request("GET", run_path)["state"]
        if state in ("success", "failed"):
            break
        assert time.monotonic() < deadline, f"{RAMP_DAG} did not end: ramp states {seen}"
        time.sleep(RAMP_POLL)
    assert state == "success", (seen, client.task_states(RAMP_DAG, run_id))
    assert "deferred" in seen, f"the ramp never waited on the triggerer: {seen}"
    assert seen.index("deferred") < seen.index("success"), seen
    ti = client.request("GET", f"{run_path}/taskInstances/ramp")
    assert (ti["state"], ti["try_number"]) == ("success", 1), ti  # a deferral is no retry
    check_quiet_logs(client, RAMP_DAG, run_id)
    label = f"{MODEL}/{version}"
    log = task_log(client, RAMP_DAG, run_id, "ramp", f"{label} is the champion of {MODEL}/")
    assert f"{label} started in production" in log, log[-3000:]
    assert "next check in" in log, log[-3000:]  # the deferral, as the task logged it
    # resume_ramp_step: the analysis's line, its gates, and the champion at 100%.
    assert f"{label} promoted: " in log and "(verdict pass; requests" in log, log[-3000:]
    assert "gate " in log, log[-3000:]
    assert f"{label} is the champion of {MODEL}/production" in log, log[-3000:]
    return str(run_id)


def check_ramp_outcome(aimops_home: Path, version: str) -> None:
    """The deployment the ramp left, in the AIM store and in the file router's traffic file:
    ``version`` is the champion and serves 100%."""
    from aimops.metadata.lifecycle.deployments import read_deployment
    from aimops.metadata.store import AimStore

    with AimStore.open(f"sqlite:///{aimops_home / 'aim.db'}", create=False) as store:
        deployment = read_deployment(store, MODEL, "production")
    assert deployment.urn == f"urn:aim:deployment:{MODEL}/production"
    assert (deployment.champion, deployment.weights) == (version, {version: 100}), deployment
    traffic = json.loads((aimops_home / "traffic" / MODEL / "production.json").read_text())
    assert (traffic["champion"], traffic["weights"]) == (version, {version: 100}), traffic
    assert traffic["revision"] == deployment.revision, (traffic, deployment)


@dataclass
class Standalone:
    home: Path
    dags: Path
    aimops_home: Path
    port: int
    info: airflow_local.StartInfo | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def start(self) -> airflow_local.StartInfo:
        began = time.monotonic()
        self.info = airflow_local.start(
            self.home,
            port=self.port,
            dags=self.dags,
            aimops_home=self.aimops_home,
            timeout=START_TIMEOUT,
            env=airflow_local.isolated_env(self.aimops_home),
        )
        self.timings["start_to_healthy"] = time.monotonic() - began
        return self.info

    def stop(self) -> airflow_local.StopReport:
        began = time.monotonic()
        report = airflow_local.stop(self.home)
        self.timings.setdefault("stop", time.monotonic() - began)
        return report

    def pgid(self) -> int | None:
        return self.info.pid if self.info is not None else None


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[Standalone]:
    dags = tmp_path / "dags"
    dags.mkdir()
    for example in (EXAMPLE, EVALUATION_EXAMPLE, *MONITORING_EXAMPLES, RAMP_EXAMPLE):
        (dags / example.name).write_text(example.read_text())
    server = Standalone(
        home=tmp_path / "airflow",
        dags=dags,
        aimops_home=tmp_path / "aimops",
        port=airflow_local.free_port(),
    )
    try:
        yield server
    finally:
        # Whatever happened (start failed, assertion failed, Ctrl-C): leave nothing running.
        report = server.stop()
        print("timings:", json.dumps({k: round(v, 1) for k, v in server.timings.items()}))
        assert report.clean, f"processes survived the teardown stop: {report.survivors}"


def test_the_example_dag_runs_in_real_airflow_and_is_captured(standalone: Standalone) -> None:
    info = standalone.start()
    assert info.url == f"http://127.0.0.1:{standalone.port}"
    assert info.username and info.password, "no generated SimpleAuthManager login"
    client = info.client()
    assert client.health().scheduler.status == "healthy"

    began = time.monotonic()
    dag = client.wait_for_dag(DAG_ID, timeout=PARSE_TIMEOUT)
    standalone.timings["healthy_to_parsed"] = time.monotonic() - began
    assert "aimops" in [tag.name for tag in dag.tags]

    assert client.set_paused(DAG_ID, False).is_paused is False
    began = time.monotonic()
    run_id = client.trigger(DAG_ID, {}).dag_run_id
    state = client.wait_for_run(DAG_ID, run_id, timeout=RUN_TIMEOUT, out=print)
    standalone.timings["trigger_to_success"] = time.monotonic() - began
    assert state == "success", f"run {run_id} ended {state}: {client.task_states(DAG_ID, run_id)}"

    # Clear the whole run, as a user would from the grid: every task runs again as try 2.
    cleared = client.request(
        "POST",
        f"/api/v2/dags/{DAG_ID}/clearTaskInstances",
        {"dag_run_id": run_id, "dry_run": False, "only_failed": False},
    )
    assert sorted(ti["task_id"] for ti in cleared["task_instances"]) == sorted(TASKS)
    run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        tries = {task: client.request("GET", f"{run_path}/taskInstances/{task}") for task in TASKS}
        if all(ti["try_number"] == 2 and ti["state"] == "success" for ti in tries.values()):
            break
        assert time.monotonic() < deadline, f"the cleared run did not finish again: {tries}"
        time.sleep(1)
    assert client.wait_for_run(DAG_ID, run_id, timeout=RUN_TIMEOUT, out=print) == "success"
    assert client.task_states(DAG_ID, run_id) == dict.fromkeys(TASKS, "success")

    check_quiet_logs(client, DAG_ID, run_id)

    # The extra links, resolved by the real API server as the UI asks for them.
    assert info.mlflow_ui_url is not None, "start ran no MLflow UI"
    check_mlflow_link(client, info.mlflow_ui_url, run_path)

    # The other examples, in the order a user might trigger them.
    check_monitoring_right_after_training(client)
    check_evaluation_report(client)
    check_monitoring_of_a_served_day(client, standalone.aimops_home)

    # Last (its simulated traffic and champion would change what the checks above see): ramp
    # the @candidate version, published directly (see publish_directly), on the triggerer.
    began = time.monotonic()
    version = mlflow_alias(info.mlflow_ui_url, "candidate")  # moved by train_model's clear
    assert version is not None, "train_model set no @candidate"
    publish_directly(standalone.aimops_home, version)
    check_ramp_on_the_triggerer(client, version)
    assert mlflow_alias(info.mlflow_ui_url, "champion") == version  # the ramp's MLflow mirror
    standalone.timings["ramp"] = time.monotonic() - began

    pgid = standalone.pgid()
    report = standalone.stop()
    assert report.clean, f"survivors after stop: {report.survivors}"
    assert airflow_local.find_processes(standalone.home, pgid) == []
    assert not (standalone.home / airflow_local.PID_FILE).exists()
    with pytest.raises(OSError):  # MLflow's UI stopped with Airflow
        urlopen(f"{info.mlflow_ui_url}/health", timeout=5)

    check_aim_store(standalone.aimops_home, DAG_ID, run_id)
    check_ramp_outcome(standalone.aimops_home, version)
