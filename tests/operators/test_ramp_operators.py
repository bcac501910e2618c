"""The ramp operators in real Airflow (``dag.test()``, which runs each trigger inline): a healthy
challenger is ramped to champion, a slow one is rolled back with an alert, a ramp starved of
requests pauses until a person aborts it, and a de-ramp gives a version's traffic back.

Traffic comes from the serving simulator: the tasks' ``before_analysis`` writes each step's
window of requests (:func:`aimops.monitors.serving.windows.simulate_serving_window`) from
models defined here (no scikit-learn), where the analysis reads them. Under ``dag.test()`` the
task runs the operator object of this module, so those functions need not be importable by a
worker; a DAG file's must be (``dags_examples/ramp_model.py``).
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aimops.metadata.store import AimStore

PAGE_BASE = "https://airflow.example.com"
EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
#: What each before_analysis call was given, in order (the tasks run in this process).
SEEN: list[dict[str, Any]] = []


class Scorer:
    """A model with predict_proba: P(class 1) from the first feature."""

    def predict_proba(self, rows: Any) -> Any:
        import numpy as np

        first = np.clip(np.asarray(rows, dtype=float)[:, 0] / 10.0, 0.0, 1.0)
        return np.column_stack([1.0 - first, first])


def _serve(info: dict[str, Any], requests: int = 2000, **challenger_faults: Any) -> None:
    """Write the window's requests, split by the deployment's weights; no random errors, so a
    healthy version passes its gates whatever the draw."""
    import pandas as pd

    from aimops.monitors.serving.windows import simulate_serving_window

    SEEN.append(info)
    serving = [version for version, weight in info["weights"].items() if weight > 0]
    faults: dict[str, dict[str, Any]] = {v: {"error_rate": 0.0} for v in serving}
    if info["challenger"] in faults:
        faults[info["challenger"]].update(challenger_faults)
    simulate_serving_window(
        dict.fromkeys(serving, Scorer()),
        pd.DataFrame({"size": [1.0, 4.0, 6.0, 9.0], "age": [30.0, 41.0, 52.0, 63.0]}),
        model=info["model"],
        weights=info["weights"],
        start=datetime.datetime.fromisoformat(info["window_start"]),
        end=datetime.datetime.fromisoformat(info["window_end"]),
        requests=requests,
        seed=len(SEEN),
        faults=faults,
    )


def healthy(info: dict[str, Any]) -> None:
    _serve(info)


def slow_challenger(info: dict[str, Any]) -> None:
    _serve(info, latency_regression_ms=900.0)


def few_requests(info: dict[str, Any]) -> None:
    _serve(info, requests=50)


@pytest.fixture
def ramp_env(aim_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh AIM store with churn/1 (the champion, 100%) and churn/2 published; the file
    router, serving logs and alert log under it; no MLflow, no webhook."""
    from aimops.metadata.lifecycle.deployments import change_traffic, read_deployment
    from aimops.metadata.recording import record_model_version

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "AIMOPS_ALERT_WEBHOOK",
                 "AIMOPS_ROUTER", "AIMOPS_TRAFFIC_DIR", "AIMOPS_SERVING_LOGS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIMOPS_AIRFLOW_URL", PAGE_BASE)
    monkeypatch.setenv("AIMOPS_ALERT_LOG", str(aim_home / "alerts.log"))
    SEEN.clear()
    with _store(aim_home) as store:
        for number in (1, 2):
            record_model_version(store, "churn", number)
            store.put_aspect(
                f"urn:aim:modelVersion:churn/{number}",
                "lifecycle",
                {"state": "published", "transition": "publish", "previous": "publishable",
                 "actor": "ana", "at": datetime.datetime.now(datetime.UTC)},
            )  # fmt: skip
        change_traffic(store, read_deployment(store, "churn"), {"1": 100}, champion="1",
                       change="set", actor="ana", mlflow=False)  # fmt: skip
    yield aim_home


def _store(home: Path) -> AimStore:
    return AimStore.open(f"sqlite:///{home / 'aim.db'}")


def _traffic(home: Path) -> dict[str, Any]:
    """What the file router wrote for churn in production: what a serving layer reads."""
    document = json.loads((home / "traffic" / "churn" / "production.json").read_text())
    return {"weights": document["weights"], "champion": document["champion"]}


def _ramp_dag(dag_id: str, **options: Any) -> Any:
    from airflow.sdk import DAG

    from aimops.operators.ramps import RampModelOperator

    retry = {"retries": 1, "retry_delay": datetime.timedelta(seconds=0)}
    with DAG(dag_id, schedule=None, tags=["aimops"], default_args=retry) as dag:
        RampModelOperator(
            task_id="ramp", model_version="churn/2", schedule=[50, 100], bake_time=0, **options
        )
    return dag


def _gates(analysis: dict[str, Any]) -> dict[str, str]:
    return {gate["name"]: gate["status"] for gate in analysis["gates"]}


# -- a ramp runs to its end ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_healthy_challenger_is_ramped_to_champion(
    runs: Any, ramp_env: Path, run_dag: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    from aimops.operators.web.urls import model_version_url

    dag = _ramp_dag("ramp_healthy", before_analysis=healthy, reason="weekly retrain")
    capfd.readouterr()
    began = time.monotonic()
    dag_run = run_dag(dag)
    took = time.monotonic() - began
    said = capfd.readouterr()
    assert dag_run.state == "success", said.err[-3000:]
    assert {t: (ti.state, ti.try_number) for t, ti in runs.instances(dag_run).items()} == {
        "ramp": ("success", 1)  # deferred and resumed twice: still its first try
    }
    # What a serving layer reads, and what the task returned.
    assert _traffic(ramp_env) == {"weights": {"2": 100}, "champion": "2"}
    done = runs.xcom(dag_run, "ramp")
    assert (done["did"], done["status"], done["urn"]) == (
        "promoted",
        "complete",
        "urn:aim:modelVersion:churn/2",
    )
    assert done["deployment"]["weights"] == {"2": 100} and done["deployment"]["champion"] == "2"
    assert done["ramp"]["reason"] == "weekly retrain"
    assert done["ramp"]["actor"] == "airflow:ramp_healthy"
    assert done["page"] and Path(done["page"]).is_file()
    # One XCom per analysis, with its gates; the step's traffic came from before_analysis.
    first, second = (runs.xcom(dag_run, "ramp", f"ramp_step_{n}") for n in (1, 2))
    assert (first["weight"], first["verdict"], first["decision"]) == (50, "pass", "advance")
    assert _gates(first) == {
        "requests": "pass",
        "success_rate": "pass",
        "latency_p99": "pass",
        "latency_p99_vs_champion": "pass",
        "success_rate_vs_champion": "pass",
        "checks": "pass",
    }
    assert (second["weight"], second["verdict"], second["decision"]) == (100, "pass", "promote")
    assert _gates(second)["latency_p99_vs_champion"] == "skipped"  # the champion served nothing
    assert runs.xcom(dag_run, "ramp", "ramp_step_3") is None
    assert runs.xcom(dag_run, "ramp", "ramp_status") == "complete"
    assert runs.xcom(dag_run, "ramp", "ramp_urn") == done["ramp"]["urn"]
    assert [info["weights"] for info in SEEN] == [{"1": 50, "2": 50}, {"2": 100}]
    for info, analysis in zip(SEEN, (first, second), strict=True):
        assert info["window_start"] < info["window_end"] == analysis["window_end"]
        assert (info["challenger"], info["champion"], info["model"]) == ("2", "1", "churn")
    assert sum(first["requests"].values()) == 2000  # what the window simulated, all of it read
    # The log: a line per step, a line per gate; the link opens the version's page.
    log = said.out + said.err
    assert "churn/2 advanced: step 1 of 2 (50%) passed: 50% -> 100%" in log
    assert "churn/2 promoted: step 2 of 2 (100%) passed: 2 is the champion" in log
    assert "gate latency_p99: pass (" in log
    page = model_version_url("urn:aim:modelVersion:churn/2")
    assert runs.xcom(dag_run, "ramp", key="_link_RampVersionLink") == page
    print(f"healthy ramp of 2 steps under dag.test(): {took:.1f} s")


@pytest.mark.slow
def test_a_slow_challenger_is_rolled_back_and_fails_its_task(
    runs: Any, ramp_env: Path, run_dag: Any
) -> None:
    dag = _ramp_dag("ramp_rollback", before_analysis=slow_challenger)
    began = time.monotonic()
    dag_run = run_dag(dag)
    took = time.monotonic() - began
    assert dag_run.state == "failed"
    # Failed at once although retries=1: a rollback is not retried.
    assert runs.instances(dag_run)["ramp"].state == "failed"
    assert runs.instances(dag_run)["ramp"].try_number == 1
    assert _traffic(ramp_env) == {"weights": {"1": 100}, "champion": "1"}
    analysis = runs.xcom(dag_run, "ramp", "ramp_step_1")
    assert (analysis["verdict"], analysis["decision"]) == ("fail", "roll_back")
    failed = sorted(name for name, status in _gates(analysis).items() if status == "fail")
    assert failed == ["latency_p99", "latency_p99_vs_champion"]
    assert runs.xcom(dag_run, "ramp", "ramp_status") == "rolled_back"
    assert runs.xcom(dag_run, "ramp") is None
    (error,) = runs.attempt_errors(ramp_env, dag_run, "ramp")
    assert error is not None
    assert error.startswith(
        "AirflowFailException: the ramp of churn/2 in production was rolled back: failed "
        "gate(s) latency_p99 ("
    )
    assert "the champion churn/1 was restored to 100% (urn:aim:ramp:churn/production/1)" in error
    (alert,) = [json.loads(line) for line in (ramp_env / "alerts.log").read_text().splitlines()]
    assert alert["title"] == "ramp of churn/2 rolled back"
    assert "the champion churn/1 serves 100% again" in alert["message"]
    print(f"rolled-back ramp under dag.test(): {took:.1f} s")


@pytest.mark.slow
def test_a_starved_ramp_pauses_until_a_person_aborts_it(
    runs: Any, ramp_env: Path, run_dag: Any
) -> None:
    """Too few requests past the progress deadline: paused, re-checked every poll; a person
    aborts it (here a thread, as ``aimops abort`` would) and the task fails naming them."""
    from aimops.metadata.lifecycle.ramps import latest_ramp
    from aimops.monitors.ramps.engine import abort_ramp

    dag = _ramp_dag(
        "ramp_paused",
        before_analysis=few_requests,
        gates={"min_requests": 500},
        progress_deadline=0,
        poll_interval=datetime.timedelta(seconds=1),
    )
    seen_paused = threading.Event()

    def person() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with _store(ramp_env) as store:
                ramp = latest_ramp(store, "churn", "production", version="2")
                if ramp is not None and ramp.status == "paused":
                    seen_paused.set()
                    abort_ramp(store, ramp.urn, actor="ana", reason="no traffic", mlflow=False)
                    return
            time.sleep(0.2)

    thread = threading.Thread(target=person, daemon=True)
    thread.start()
    dag_run = run_dag(dag)
    thread.join(10)
    assert seen_paused.is_set()
    assert dag_run.state == "failed"
    assert runs.instances(dag_run)["ramp"].try_number == 1
    analysis = runs.xcom(dag_run, "ramp", "ramp_step_1")
    assert (analysis["verdict"], analysis["decision"]) == ("inconclusive", "pause")
    assert _gates(analysis)["requests"] == "inconclusive"
    assert runs.xcom(dag_run, "ramp", "ramp_step_2") is None  # no analysis while paused
    assert runs.xcom(dag_run, "ramp", "ramp_status") == "aborted"
    assert len(SEEN) == 1
    (error,) = runs.attempt_errors(ramp_env, dag_run, "ramp")
    assert error == (
        "AirflowFailException: the ramp of churn/2 in production was aborted by ana: no "
        "traffic; churn/1 serves 100% (urn:aim:ramp:churn/production/1)"
    )
    assert _traffic(ramp_env) == {"weights": {"1": 100}, "champion": "1"}


# -- the de-ramp ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_deramp_gives_the_traffic_back_and_refuses_the_champion(
    runs: Any, ramp_env: Path, run_dag: Any
) -> None:
    from airflow.sdk import DAG

    from aimops.metadata.lifecycle.deployments import change_traffic, read_deployment
    from aimops.operators.ramps import DerampModelOperator

    with _store(ramp_env) as store:
        change_traffic(store, read_deployment(store, "churn"), {"1": 90, "2": 10},
                       champion="1", change="set", actor="ana", mlflow=False)  # fmt: skip
    retry = {"retries": 1, "retry_delay": datetime.timedelta(seconds=0)}
    with DAG("deramp_churn", schedule=None, tags=["aimops"], default_args=retry) as dag:
        deramp = DerampModelOperator(
            task_id="deramp", model_version="churn/2", reason="p99 up", actor="ana"
        )
        deramp >> DerampModelOperator(
            task_id="deramp_champion", model_version="churn/1", environment="production",
            trigger_rule="all_done",
        )  # fmt: skip
    dag_run = run_dag(dag)
    states = {task: (ti.state, ti.try_number) for task, ti in runs.instances(dag_run).items()}
    assert states == {"deramp": ("success", 1), "deramp_champion": ("failed", 1)}
    done = runs.xcom(dag_run, "deramp")
    assert (done["did"], done["urn"]) == ("deramped", "urn:aim:modelVersion:churn/2")
    (found,) = done["deployments"]
    assert (found["removed_weight"], found["weights"], found["champion"]) == (10, {"1": 100}, "1")
    assert _traffic(ramp_env) == {"weights": {"1": 100}, "champion": "1"}
    (refused,) = runs.attempt_errors(ramp_env, dag_run, "deramp_champion")
    assert refused is not None and refused.startswith(
        "AirflowFailException: cannot de-ramp churn/1 (urn:aim:modelVersion:churn/1): it is the "
        "only version serving churn/production"
    )


# -- without a DAG run ------------------------------------------------------------------------


def test_wrong_arguments_fail_when_the_dag_file_is_parsed() -> None:
    from aimops.errors import InvalidInputError
    from aimops.operators.ramps import DerampModelOperator, RampModelOperator

    with pytest.raises(InvalidInputError, match=r"^r: a ramp.s schedule must increase step by"):
        RampModelOperator(task_id="r", model_version="churn/2", schedule=[50, 10, 100])
    with pytest.raises(InvalidInputError, match=r"^r: bake_time must be within \[0, inf\]"):
        RampModelOperator(task_id="r", model_version="churn/2", bake_time=-1)
    with pytest.raises(InvalidInputError, match=r"^r: unknown ramp gate\(s\) \['p99'\]"):
        RampModelOperator(task_id="r", model_version="churn/2", gates={"p99": 300})
    with pytest.raises(InvalidInputError, match="poll_interval must be above 0"):
        RampModelOperator(task_id="r", model_version="churn/2", poll_interval=0)
    with pytest.raises(InvalidInputError, match="before_analysis must be a function"):
        RampModelOperator(task_id="r", model_version="churn/2", before_analysis="simulate")
    with pytest.raises(InvalidInputError, match="model_version is required"):
        DerampModelOperator(task_id="d", model_version=" ")
    templated = RampModelOperator(
        task_id="t", model_version="{{ params.v }}", schedule="{{ params.schedule }}",
        bake_time="{{ params.bake }}",
    )  # fmt: skip
    assert templated.schedule == "{{ params.schedule }}"  # checked once rendered
    assert {"model_version", "schedule", "bake_time", "environment"} <= set(
        RampModelOperator.template_fields
    )
    from aimops.operators.lifecycle import ModelVersionLink
    from aimops.operators.ramps import RampVersionLink

    assert RampModelOperator.operator_extra_links == (RampVersionLink(),)
    assert DerampModelOperator.operator_extra_links == (ModelVersionLink(),)


def test_the_example_ramp_dag_parses_light_with_task_docs(airflow_db: Path) -> None:
    import subprocess
    import sys

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES / "ramp_model.py"), include_examples=False)
    assert bag.import_errors == {}
    dag = bag.dags["ramp_model"]
    assert [task.task_id for task in dag.topological_sort()] == ["resolve_version", "ramp"]
    assert dag.doc_md and all(task.doc_md for task in dag.tasks)
    ramp = dag.get_task("ramp")
    assert ramp.before_analysis.__name__ == "simulate_window"
    assert dag.params["model"] == "breast_cancer_classifier"
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(EXAMPLES / 'ramp_model.py')!r})\n"
        "print(','.join(sorted(m for m in ('mlflow', 'sklearn', 'pandas', 'evidently') "
        "if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1:] in ([], [""])  # no heavy import when parsed


class _Ti:
    """The task instance a retried ramp task sees (XComs kept in a dict)."""

    dag_id, run_id, task_id, map_index = "ramp_retry", "manual__1", "ramp", -1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int) -> Any:
        return self.pushed.get(key)


def test_a_retry_of_the_task_finds_its_own_ramp_again(ramp_env: Path) -> None:
    """A retry (a new try runs ``execute`` again) neither starts a second ramp nor waits a
    whole bake again; once its ramp has ended, it reports how instead of starting another."""
    from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

    from aimops.metadata.lifecycle.ramps import ramps_of
    from aimops.monitors.ramps.engine import abort_ramp
    from aimops.operators.ramps import RampModelOperator

    task = RampModelOperator(task_id="ramp", model_version="churn/2", bake_time=600)
    context: dict[str, Any] = {"ti": _Ti(), "dag_run": SimpleNamespace(triggering_user_name="bo")}
    waits = []
    for _ in range(2):
        with pytest.raises(TaskDeferred) as deferred:
            task.execute(context)
        assert deferred.value.method_name == "resume_ramp_step"
        assert deferred.value.kwargs == {"ramp": "urn:aim:ramp:churn/production/1"}
        waits.append(deferred.value.trigger.moment)
    assert waits[1] <= waits[0]  # what is left of the bake, not a new one
    assert context["ti"].pushed["ramp_status"] == "ramping"
    with _store(ramp_env) as store:
        assert [ramp.urn for ramp in ramps_of(store, "churn", "production")] == [
            "urn:aim:ramp:churn/production/1"
        ]
        assert _traffic(ramp_env) == {"weights": {"1": 99, "2": 1}, "champion": "1"}
        abort_ramp(store, "urn:aim:ramp:churn/production/1", actor="ana", mlflow=False)
    with pytest.raises(AirflowFailException, match="was aborted by ana; churn/1 serves 100%"):
        task.execute(context)
    with _store(ramp_env) as store:
        assert len(ramps_of(store, "churn", "production")) == 1  # no second ramp
    assert context["ti"].pushed["ramp_status"] == "aborted"


def test_a_schedule_from_an_upstream_task_is_checked_when_it_runs() -> None:
    from airflow.sdk import DAG, task

    from aimops.operators.ramps import RampModelOperator

    @task
    def plan() -> list[int]:
        return [10, 100]

    with DAG("ramp_planned", schedule=None):
        ramp = RampModelOperator(task_id="ramp", model_version="churn/2", schedule=plan())
    assert "schedule" in ramp.template_fields  # the XComArg resolves before execute
