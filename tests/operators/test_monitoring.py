"""The monitoring DAG in real Airflow: a clean day passes, each injected fault is caught.

A model is trained on the breast-cancer table and registered in a real MLflow (SQLite) as
``breast_cancer_classifier@candidate``, as ``train_model`` would. ``simulate_serving`` (the
serving SIMULATOR DAG) registers its reference data and writes a clean day; ``monitor_model``
checks it and passes. Then a day with covariate drift, one with a latency regression and one
with errors are simulated (with the same simulator, called directly), and ``monitor_model``
must fail exactly the tasks whose checks see each fault, alerting through the alert log and a
real local webhook. Five DAG runs: about a minute.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from aimops.metadata.store import AimStore
from aimops.metadata.urns import Urn, model_version_urn, step_urn

DAGS = Path(__file__).resolve().parents[2] / "dags_examples"
MODEL = "breast_cancer_classifier"
CHECK_TASKS = ("data_quality", "drift", "feature_consistency", "health")
DASHBOARD = "https://grafana.example.com/d/serving?var-model={model}&var-version={version}&from={start_ms}&to={end_ms}"
FIRST_DAY = datetime.date(2026, 3, 1)
ONE_DAY = datetime.timedelta(days=1)
#: The covariate drift injected: every "mean" and "worst" feature shifted by 1.5 deviations.
DRIFTED = 1.5


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Monitoring:
    """The environment the DAGs ran in, and what each run of monitor_model left."""

    home: Path
    mlflow_uri: str
    version: str  # name/number
    alert_log: Path
    webhook: list[dict[str, Any]]
    runs: dict[str, Any] = field(default_factory=dict)  # scenario -> the monitor_model DagRun

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.home / 'aim.db'}"

    def check(self, scenario: str, task_id: str) -> Urn:
        run_id = self.runs[scenario].run_id
        return Urn.parse(f"urn:aim:check:airflow/monitor_model/{run_id}/{task_id}")

    def alerts(self) -> list[dict[str, Any]]:
        if not self.alert_log.exists():
            return []
        lines = self.alert_log.read_text().splitlines()
        return [json.loads(line) for line in lines if json.loads(line).get("record") == "alert"]


def _dag(name: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / f"{name}.py"), include_examples=False)
    assert bag.import_errors == {}
    return bag.dags[name]


def _breast_cancer() -> Any:
    import re

    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", str(c)).strip("_") for c in frame.columns]
    return frame


def _register_model(mlflow_uri: str, folder: Path, store_url: str) -> str:
    """A logistic regression on the table, registered as train_model registers it."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import aimops
    from aimops.monitors.sources import without_airflow_shim_warnings

    frame = _breast_cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(frame.drop(columns=["target"]), frame["target"])
    client = mlflow.MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    experiment = client.create_experiment("monitoring", artifact_location=(folder / "a").as_uri())
    with mlflow.start_run(experiment_id=experiment), without_airflow_shim_warnings():
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    version = mlflow.register_model(info.model_uri, MODEL).version
    client.set_registered_model_alias(MODEL, "candidate", version)
    with AimStore.open(store_url) as store:
        aimops.record_model_version(store, MODEL, version)
    return f"{MODEL}/{version}"


def _environment(mp: pytest.MonkeyPatch, home: Path, mlflow_uri: str) -> None:
    import mlflow

    from aimops.operators.capture import listener

    mp.setenv("AIMOPS_HOME", str(home))
    mp.delenv("AIMOPS_STORE_URL", raising=False)
    mp.delenv("AIMOPS_CAPTURE", raising=False)
    mp.delenv("AIMOPS_SERVING_LOGS", raising=False)
    mp.setenv("MLFLOW_REGISTRY_URI", mlflow_uri)
    mp.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    mp.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    mp.setattr(mlflow.tracking._model_registry.utils, "_registry_uri", None)
    mp.setenv("AIMOPS_DASHBOARD_URL_TEMPLATE", DASHBOARD)
    mp.setenv("AIMOPS_AIRFLOW_URL", "http://airflow.example.com")
    listener.reset_sink()


def _write_day(monitoring: Monitoring, day: datetime.date, **faults: Any) -> None:
    """A simulated day of serving with ``faults``, where monitor_model looks."""
    from aimops.monitors.serving.logs import day_folder
    from aimops.monitors.serving.simulator import simulate_serving_day
    from aimops.monitors.sources import load_model

    model = load_model(
        f"models:/{monitoring.version}",
        tracking_uri=monitoring.mlflow_uri,
        registry_uri=monitoring.mlflow_uri,
    )
    features = _breast_cancer().drop(columns=["target"])
    simulate_serving_day(
        model, features, model_version=monitoring.version, day=day, seed=day.day, **faults
    ).write(day_folder(monitoring.version, day))


def _at(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(6), tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def monitoring(run_dag: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitoring]:
    folder = tmp_path_factory.mktemp("monitoring")
    home, mlflow_uri = folder / "aimops", f"sqlite:///{folder / 'mlflow.db'}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Webhook.received = []
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, home, mlflow_uri)
        mp.setenv("AIMOPS_ALERT_LOG", str(folder / "alerts.log"))
        mp.setenv("AIMOPS_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hooks/T0/B1")
        version = _register_model(mlflow_uri, folder, f"sqlite:///{home / 'aim.db'}")
        found = Monitoring(home, mlflow_uri, version, folder / "alerts.log", _Webhook.received)
        simulated = run_dag(
            _dag("simulate_serving"), run_after=_at(FIRST_DAY), conf={"day": str(FIRST_DAY)}
        )
        assert simulated.state == "success"
        found.runs["clean"] = run_dag(_dag("monitor_model"), run_after=_at(FIRST_DAY))
        scenarios = {
            "drift": {"drift": {name: DRIFTED for name in _drifted_features()}},
            "latency": {"latency_regression_ms": 900.0},
            "errors": {"error_rate": 0.05},
        }
        for offset, (scenario, faults) in enumerate(scenarios.items(), start=1):
            day = FIRST_DAY + datetime.timedelta(days=offset)
            _write_day(found, day, **faults)
            found.runs[scenario] = run_dag(
                _dag("monitor_model"), run_after=_at(day), conf={"evidently_report": False}
            )
        yield found
    server.shutdown()
    from aimops.operators.capture import listener

    listener.reset_sink()


def _drifted_features() -> list[str]:
    names = _breast_cancer().columns
    return [name for name in names if name.startswith(("mean_", "worst_"))]


def _states(dag_run: Any) -> dict[str, str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = DagRun.find(dag_id=dag_run.dag_id, run_id=dag_run.run_id, session=session)[0]
        return {ti.task_id: ti.state for ti in run.get_task_instances(session=session)}


def _xcom(dag_run: Any, task_id: str, key: str) -> Any:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = DagRun.find(dag_id=dag_run.dag_id, run_id=dag_run.run_id, session=session)[0]
        ti = run.get_task_instance(task_id, session=session)
        return ti.xcom_pull(task_ids=task_id, key=key, session=session)


def _failed(dag_run: Any) -> set[str]:
    return {task for task, state in _states(dag_run).items() if state == "failed"}


def _recorded(monitoring: Monitoring, scenario: str) -> dict[str, dict[str, Any]]:
    """task id -> the check's checkInfo and result document, as recorded."""
    with AimStore.open(monitoring.store_url) as store:
        found = {}
        for task_id in CHECK_TASKS:
            urn = monitoring.check(scenario, task_id)
            info = store.get_aspect(urn, "checkInfo")
            assert info is not None, f"{urn} was not recorded"
            result = store.get_aspect(urn, "checkResult")
            assert result is not None
            found[task_id] = {**info.value, "document": result.value["document"]}
        return found


# -- in any order ------------------------------------------------------------------------------


@pytest.mark.slow
def test_before_a_day_was_served_the_examples_skip_their_work_and_succeed(
    run_dag: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user may trigger the examples in any order: the simulator before any training, the
    monitor before anything was served, or right after train_model moved @candidate on."""
    from airflow.sdk.exceptions import AirflowSkipException

    from aimops.operators.capture import listener

    home, mlflow_uri = tmp_path / "aimops", f"sqlite:///{tmp_path / 'mlflow.db'}"
    day = FIRST_DAY - datetime.timedelta(days=30)
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, home, mlflow_uri)
        nothing_to_serve = run_dag(_dag("simulate_serving"), run_after=_at(day))
        nothing_trained = run_dag(_dag("monitor_model"), run_after=_at(day))
        version = _register_model(mlflow_uri, tmp_path, f"sqlite:///{home / 'aim.db'}")
        nothing_served = run_dag(_dag("monitor_model"), run_after=_at(day + ONE_DAY))
        find_serving_day = _dag("monitor_model").get_task("find_serving_day")
        capsys.readouterr()
        with pytest.raises(AirflowSkipException):
            find_serving_day.python_callable(f"{MODEL}@candidate", "")
        said = capsys.readouterr().out
        listener.reset_sink()
    assert nothing_to_serve.state == "success"
    assert set(_states(nothing_to_serve).values()) == {"skipped"}
    for run in (nothing_trained, nothing_served):
        assert run.state == "success"
        assert _states(run) == dict.fromkeys(("find_serving_day", *CHECK_TASKS), "skipped")
    assert said == (  # one line in the task's log, outside the folded groups
        f"nothing to check: no day of serving of {version} ({MODEL}@candidate) yet; "
        "simulate_serving writes one, then run monitor_model again\n"
    )
    assert not (home / "alerts.log").exists()  # nothing failed, nothing alerted


# -- the clean day -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_clean_day_passes_every_check_and_records_them(monitoring: Monitoring) -> None:
    run = monitoring.runs["clean"]
    assert run.state == "success"
    assert set(_states(run).values()) == {"success"}
    recorded = _recorded(monitoring, "clean")
    version = str(model_version_urn(*monitoring.version.split("/")))
    for task_id, check in recorded.items():
        assert check["status"] == "pass", (task_id, check["document"])
        assert version in check["targets"]
        assert _xcom(run, task_id, "return_value") == str(monitoring.check("clean", task_id))
    assert recorded["health"]["document"]["versions"][monitoring.version]["requests"] == 2000
    drift = recorded["drift"]["document"]
    assert len(drift["columns"]) == 30 and drift["drift_share"] < 0.5
    alerted = [alert["source"]["run_id"] for alert in monitoring.alerts()]
    assert run.run_id not in alerted and len(alerted) == 4  # only the fault days alerted


@pytest.mark.slow
def test_the_checks_are_recorded_as_time_series_of_the_model_version(
    monitoring: Monitoring,
) -> None:
    from aimops.monitors.checks.recording import list_checks

    version = model_version_urn(*monitoring.version.split("/"))
    with AimStore.open(monitoring.store_url) as store:
        checks = list_checks(store, model=MODEL)
        assert len(checks) == 4 * len(monitoring.runs)
        assert {check["kind"] for check in checks} == {
            "data_quality",
            "drift",
            "feature_consistency",
            "health",
        }
        p99 = store.get_points(version, "check.health.latency_p99_ms")
        producer = store.related(monitoring.check("clean", "health"), "producedBy")
    assert len(p99) == len(monitoring.runs)
    by_value = sorted(point.value for point in p99)
    assert by_value[-1] > 900 and by_value[0] < 500  # the latency day stands out
    run = monitoring.runs["clean"]
    assert [entity.urn for entity in producer] == [
        str(step_urn("airflow", "monitor_model", run.run_id, "health"))
    ]


@pytest.mark.slow
def test_the_tasks_link_to_their_checks_evidently_s_report_and_the_dashboard(
    monitoring: Monitoring,
) -> None:
    from aimops.operators.web.urls import check_url

    run = monitoring.runs["clean"]
    for task_id in CHECK_TASKS:
        link = _xcom(run, task_id, "_link_AimCheckLink")
        assert link == check_url(monitoring.check("clean", task_id))
        assert link.startswith("http://airflow.example.com/aimops/checks/urn:aim:check:")
    evidently = _xcom(run, "drift", "_link_EvidentlyReportLink")
    assert evidently == check_url(monitoring.check("clean", "drift"), "evidently")
    with AimStore.open(monitoring.store_url) as store:
        info = store.get_aspect(monitoring.check("clean", "drift"), "checkInfo")
    assert info is not None
    saved = Path(unquote(info.value["reports"]["evidently"].removeprefix("file://")))
    report = saved.read_text()
    assert report.lstrip().lower().startswith("<!doctype html") and len(report) > 1_000_000
    assert "mean_radius" in report  # Evidently's report of the served features
    # the day's window, in Grafana's milliseconds, for the model version served
    dashboard = _xcom(run, "health", "_link_DashboardLink")
    name, number = monitoring.version.split("/")
    start = int(datetime.datetime.combine(FIRST_DAY, datetime.time(), datetime.UTC).timestamp())
    assert dashboard.startswith(
        f"https://grafana.example.com/d/serving?var-model={name}&var-version={number}&from="
    )
    window = dashboard.split("&from=")[1].split("&to=")
    assert start * 1000 <= int(window[0]) < int(window[1]) < (start + 86_400) * 1000
    # without Evidently's report (the fault runs), no such link
    assert _xcom(monitoring.runs["latency"], "drift", "_link_EvidentlyReportLink") == ""


# -- the injected faults -----------------------------------------------------------------------


@pytest.mark.slow
def test_covariate_drift_fails_the_drift_and_consistency_checks(monitoring: Monitoring) -> None:
    run = monitoring.runs["drift"]
    assert run.state == "failed"
    assert _failed(run) == {"drift", "feature_consistency"}
    recorded = _recorded(monitoring, "drift")
    drifted = {
        name
        for name, column in recorded["drift"]["document"]["columns"].items()
        if column["drifted"]
    }
    assert set(_drifted_features()) <= drifted
    assert recorded["drift"]["status"] == "fail"
    skewed = recorded["feature_consistency"]["document"]["features"]
    assert skewed["mean_radius"]["skewed"] and skewed["worst_area"]["skewed"]
    assert recorded["health"]["status"] == "pass"


@pytest.mark.slow
def test_a_latency_regression_fails_the_health_check_alone(monitoring: Monitoring) -> None:
    run = monitoring.runs["latency"]
    assert _failed(run) == {"health"}
    health = _recorded(monitoring, "latency")["health"]["document"]
    assert health["versions"][monitoring.version]["violations"] == ["latency_p99_max_ms"]


@pytest.mark.slow
def test_errors_fail_the_health_check_alone(monitoring: Monitoring) -> None:
    run = monitoring.runs["errors"]
    assert _failed(run) == {"health"}
    health = _recorded(monitoring, "errors")["health"]["document"]
    version = health["versions"][monitoring.version]
    assert version["violations"] == ["success_rate_min"]
    assert 0.9 < version["success_rate"] < 0.99


@pytest.mark.slow
def test_each_failed_check_raises_one_alert_naming_what_failed(monitoring: Monitoring) -> None:
    alerts = monitoring.alerts()
    by_task = {(alert["source"]["run_id"], alert["source"]["task_id"]): alert for alert in alerts}
    expected = {
        (monitoring.runs[scenario].run_id, task)
        for scenario, tasks in (
            ("drift", ("drift", "feature_consistency")),
            ("latency", ("health",)),
            ("errors", ("health",)),
        )
        for task in tasks
    }
    assert len(alerts) == len(by_task) == len(expected) and set(by_task) == expected
    drift = by_task[(monitoring.runs["drift"].run_id, "drift")]
    assert drift["message"].startswith("drift in ")
    assert "mean_radius (ks " in drift["message"]
    assert drift["check_urn"] == str(monitoring.check("drift", "drift"))
    latency = by_task[(monitoring.runs["latency"].run_id, "health")]
    assert f"{monitoring.version}: p99 latency " in latency["message"]
    assert "ms > 500 ms" in latency["message"]
    errors = by_task[(monitoring.runs["errors"].run_id, "health")]
    assert "success rate" in errors["message"] and "< 99.00%" in errors["message"]
    # the same alerts reached the webhook
    assert sorted(hook["title"] for hook in monitoring.webhook) == sorted(
        alert["title"] for alert in alerts
    )
    assert all(hook["text"].startswith("monitor_model.") for hook in monitoring.webhook)


# -- the operators' verdicts on bad input and warnings ------------------------------------------


@pytest.mark.slow
def test_warnings_bad_input_and_fail_on_decide_the_task_s_state(
    run_dag: Any, aim_home: Path, tmp_path: Path
) -> None:
    import pandas as pd
    from airflow.sdk import DAG

    from aimops.operators.monitoring import DataQualityOperator, DriftCheckOperator

    table = tmp_path / "scores.csv"
    pd.DataFrame({"id": [1, 2, 3, 4], "age": [34.0, 51, 130, 45]}).to_csv(table, index=False)
    suite = [
        {"expect": "unique", "column": "id"},
        {"expect": "between", "column": "age", "min": 0, "max": 120, "severity": "warn"},
    ]
    with DAG(
        "monitor_verdicts",
        schedule=None,
        default_args={"retries": 2, "retry_delay": datetime.timedelta(minutes=5)},
    ) as dag:
        DataQualityOperator(task_id="warns", data=str(table), suite=suite, report_dir=None)
        DataQualityOperator(
            task_id="strict",
            data=str(table),
            suite=suite,
            fail_on=("fail", "warn"),
            report_dir=None,
        )
        DriftCheckOperator(
            task_id="missing_column",
            current=str(table),
            reference=str(table),
            columns=["id", "income"],
            report_dir=None,
        )
        DriftCheckOperator(  # a version capture has not recorded yet: a retry may find it
            task_id="unrecorded_version",
            current=str(table),
            reference=str(table),
            model_version="not_trained_yet/1",
            report_dir=None,
            retries=1,
            retry_delay=datetime.timedelta(seconds=0),
        )
    run = run_dag(dag, run_after=_at(FIRST_DAY))
    states = _states(run)
    assert states == {
        "warns": "success",
        "strict": "failed",
        "missing_column": "failed",
        "unrecorded_version": "failed",
    }
    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}") as store:
        prefix = f"urn:aim:check:airflow/monitor_verdicts/{run.run_id}"
        warned = store.get_aspect(f"{prefix}/warns", "checkInfo")
        strict = store.get_aspect(f"{prefix}/strict", "checkInfo")
        assert warned is not None and warned.value["status"] == "warn"
        assert strict is not None and strict.value["status"] == "warn"  # recorded, then failed
        assert store.get_aspect(f"{prefix}/missing_column", "checkInfo") is None  # nothing
        assert store.get_aspect(f"{prefix}/unrecorded_version", "checkInfo") is None
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        found = DagRun.find(dag_id=dag.dag_id, run_id=run.run_id, session=session)[0]
        tries = {ti.task_id: ti.try_number for ti in found.get_task_instances(session=session)}
    # bad input and a failed check fail once, with no retry; an unrecorded version is retried
    assert tries == {"warns": 1, "strict": 1, "missing_column": 1, "unrecorded_version": 2}
    assert "age between 0 and 120 [warn]: 1 unexpected (e.g. 130.0)" in str(
        _xcom(run, "strict", "check_failure")
    )
