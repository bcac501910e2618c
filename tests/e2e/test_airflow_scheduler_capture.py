"""End to end: under the real scheduler, a captured run is what Airflow's grid shows.

``airflow standalone`` (started by the ``airflow_local`` controller in a temporary home) runs a
DAG with ``EmptyOperator`` s (which the scheduler marks ``success`` without running them), a
nested task group, a branch and a failing task. The DAG carries no ``aimops`` tag: it is opted
in by a cluster policy in ``$AIRFLOW_HOME/config/airflow_local_settings.py``, as a platform team
would opt in every DAG. The AIM run must then equal the task instances the REST API lists,
state for state (the end is recorded by the scheduler's background worker, so the test waits a
bounded time for it). A task marked failed through the REST API is followed by its step (the
API server's listener), and marking the failing task success (Airflow clears what failed
downstream and the scheduler runs it again) brings the AIM run to Airflow's new truth.

It runs twice: with Airflow's metadata database on SQLite, and on the local PostgreSQL (a
database of its own, dropped afterwards), where the scheduler's end hook fires before its
commit and a separate session must wait for it.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import airflow_local
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

if importlib.util.find_spec("airflow") is None:
    pytest.skip("needs Airflow (aimops[airflow])", allow_module_level=True)

DAG_ID = "grid_like"
START_TIMEOUT, PARSE_TIMEOUT, RUN_TIMEOUT, CAPTURE_TIMEOUT = 120.0, 90.0, 240.0, 30.0

DAG_SOURCE = '''
"""A DAG nobody tagged for aimops: the cluster policy opts it in."""
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, TaskGroup, task

with DAG("grid_like", schedule=None, tags=["team:risk"]) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("prepare") as prepare:
        with TaskGroup("inner"):
            EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")

    @task.branch
    def pick():
        return "left"

    @task
    def left():
        return "ran"

    @task
    def right():
        return "never"

    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")

    @task(retries=0)
    def fail():
        raise RuntimeError("the feature store is down")

    after_fail = EmptyOperator(task_id="after_fail")
    end = EmptyOperator(task_id="end", trigger_rule="all_done")

    start >> prepare >> pick() >> [left(), right()] >> join
    failing = fail()
    start >> failing >> after_fail
    failing >> end
'''

POLICY_SOURCE = '''
"""Cluster policy: every DAG of this Airflow is captured by aimops."""


def dag_policy(dag):
    if "aimops" not in dag.tags:
        dag.tags.add("aimops") if isinstance(dag.tags, set) else dag.tags.append("aimops")
'''


def rest_task_instances(client: airflow_local.AirflowClient, run_id: str) -> dict[Any, Any]:
    """(task_id, map_index) -> (state, try_number), as the REST API lists them."""
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=1000"
    listed = client.request("GET", path)["task_instances"]
    return {
        (ti["task_id"], ti["map_index"] if ti["map_index"] >= 0 else None): (
            ti["state"],
            ti["try_number"],
        )
        for ti in listed
    }


def aim_run(aimops_home: Path, run_id: str) -> tuple[str | None, dict[Any, Any]]:
    """The run's native state and (task_id, map_index) -> (native state, tries) in AIM."""
    from aimops.metadata.store import AimStore
    from aimops.metadata.urns import run_urn
    from aimops.metadata.views import run_details

    database = aimops_home / "aim.db"
    if not database.exists():
        return None, {}
    with AimStore.open(f"sqlite:///{database}", create=False) as store:
        details = run_details(store, str(run_urn("airflow", DAG_ID, run_id)))
    if details is None:
        return None, {}
    steps = {
        (step["task_id"], step["map_index"]): (step["native_state"], len(step["attempts"]))
        for step in details["steps"]
    }
    return details["native_state"], steps


def wait_until(check: Callable[[], Any], what: str, timeout: float = CAPTURE_TIMEOUT) -> Any:
    """Poll ``check`` until it returns something true; fail with its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer, ok = check()
        if ok:
            return answer
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s; last seen {answer}"
        time.sleep(0.5)


def assert_aim_equals_grid(
    client: airflow_local.AirflowClient, aimops_home: Path, run_id: str
) -> dict[Any, Any]:
    """Wait until the AIM run equals the REST API's task instances and run state."""

    def check() -> tuple[Any, bool]:
        grid = rest_task_instances(client, run_id)
        run_state = client.get_run(DAG_ID, run_id).state.value
        native, steps = aim_run(aimops_home, run_id)
        wanted = {key: state for key, (state, _) in grid.items()}
        seen = {key: state for key, (state, _) in steps.items()}
        return (
            {"airflow": (run_state, wanted), "aim": (native, seen)},
            native == run_state and seen == wanted,
        )

    wait_until(check, "the AIM run did not come to equal Airflow's task instances")
    return aim_run(aimops_home, run_id)[1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def metadata_db(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Airflow's metadata DB: its default SQLite file (None), or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    yield request.getfixturevalue("postgres_database")


def _env(aimops_home: Path, database: str | None) -> dict[str, str]:
    env = airflow_local.isolated_env(aimops_home)
    if database is not None:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = database
    return env


def test_the_aim_run_equals_airflows_grid_under_the_scheduler(
    tmp_path: Path, metadata_db: str | None
) -> None:
    home, dags, aimops_home = tmp_path / "airflow", tmp_path / "dags", tmp_path / "aimops"
    dags.mkdir()
    (dags / "grid_like.py").write_text(DAG_SOURCE)
    (home / "config").mkdir(parents=True)
    (home / "config" / "airflow_local_settings.py").write_text(POLICY_SOURCE)
    timings: dict[str, float] = {}
    began = time.monotonic()
    try:
        info = airflow_local.start(
            home,
            port=airflow_local.free_port(),
            dags=dags,
            aimops_home=aimops_home,
            timeout=START_TIMEOUT,
            env=_env(aimops_home, metadata_db),
            mlflow_ui=False,
        )
        timings["start"] = time.monotonic() - began
        client = info.client()
        dag = client.wait_for_dag(DAG_ID, timeout=PARSE_TIMEOUT)
        assert "aimops" in [tag.name for tag in dag.tags]  # the cluster policy's tag
        assert client.set_paused(DAG_ID, False).is_paused is False

        began = time.monotonic()
        run_id = client.trigger(DAG_ID, {}).dag_run_id
        assert client.wait_for_run(DAG_ID, run_id, timeout=RUN_TIMEOUT) == "failed"
        timings["run"] = time.monotonic() - began
        grid = rest_task_instances(client, run_id)
        assert {key[0]: state for key, (state, _) in grid.items()} == {
            "start": "success",
            "prepare.inner.a": "success",
            "prepare.inner.b": "success",
            "pick": "success",
            "left": "success",
            "right": "skipped",
            "join": "success",
            "fail": "failed",
            "after_fail": "upstream_failed",
            "end": "success",
        }
        began = time.monotonic()
        steps = assert_aim_equals_grid(client, aimops_home, run_id)
        timings["capture_after_run"] = time.monotonic() - began
        # What never ran has no try; what the scheduler marked success has the try it gave.
        assert steps[("right", None)] == ("skipped", 0)
        assert steps[("after_fail", None)] == ("upstream_failed", 0)
        assert steps[("prepare.inner.a", None)] == ("success", 1)

        # Marked failed through the REST API: the step follows, the run keeps Airflow's state.
        run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}"
        client.request("PATCH", f"{run_path}/taskInstances/left", {"new_state": "failed"})
        steps = assert_aim_equals_grid(client, aimops_home, run_id)
        assert steps[("left", None)] == ("failed", 1)

        # Marked success: Airflow clears what failed downstream, the scheduler ends it again.
        client.request("PATCH", f"{run_path}/taskInstances/fail", {"new_state": "success"})
        assert client.wait_for_run(DAG_ID, run_id, timeout=RUN_TIMEOUT) == "success"
        steps = assert_aim_equals_grid(client, aimops_home, run_id)
        assert steps[("fail", None)] == ("success", 1)
        assert steps[("after_fail", None)][0] == "success"
        assert not (aimops_home / "spool" / "events.jsonl").exists(), "events were spooled"
    finally:
        began = time.monotonic()
        report = airflow_local.stop(home)
        timings["stop"] = time.monotonic() - began
        print("timings:", json.dumps({k: round(v, 1) for k, v in timings.items()}))
        assert report.clean, f"processes survived the stop: {report.survivors}"
