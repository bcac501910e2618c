"""A captured run shows every task instance Airflow's grid shows, with the same states.

One small DAG (``dag.test()`` costs seconds per task that runs) holds what ends without a task
hook: an ``EmptyOperator`` the scheduler marks ``success``, the branch a ``@task.branch`` did
not take, a join after it (``none_failed_min_one_success``), what a short-circuit skips, a
failing task with an ``all_success`` child (``upstream_failed``), a mapped task whose upstream
failed, and an ``all_done`` clean-up that runs anyway. The AIM run is compared with the task
instances in Airflow's own database, state for state; states set by hand go through Airflow's
real REST API app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from aimops.metadata.store import AimStore
from aimops.metadata.urns import run_urn, step_urn

DAG_ID = "aimops_final_states"
MOMENT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
#: Airflow's own word for each task instance at the run's end.
EXPECTED = {
    "start": "success",  # EmptyOperator: marked success by the scheduler, never ran
    "pick": "success",
    "taken": "success",
    "not_taken": "skipped",  # the branch not taken
    "join": "success",  # EmptyOperator after the branch
    "gate": "success",
    "gated": "skipped",  # skipped by the short-circuit
    "boom": "failed",
    "after_boom": "upstream_failed",
    "double": "upstream_failed",  # mapped over boom's output
    "cleanup": "success",  # all_done
}
NEVER_RAN = {"not_taken", "gated", "after_boom", "double"}


def final_states_dag() -> Any:
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, task

    with DAG(DAG_ID, schedule=None, tags=["aimops"]) as dag:
        start = EmptyOperator(task_id="start")

        @task.branch
        def pick() -> str:
            return "taken"

        @task
        def taken() -> str:
            return "ran"

        @task
        def not_taken() -> str:
            return "never"

        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")

        @task.short_circuit
        def gate() -> bool:
            return False

        @task
        def gated() -> None:
            return None

        @task
        def boom() -> list[int]:
            raise ValueError("the labels are all one class")

        @task
        def after_boom() -> None:
            return None

        @task
        def double(value: int) -> int:
            return 2 * value

        @task(trigger_rule="all_done")
        def cleanup() -> None:
            return None

        branch = pick()
        start >> branch >> [taken(), not_taken()] >> join
        start >> gate() >> gated()
        failing = boom()
        start >> failing
        failing >> after_boom()
        double.expand(value=failing)
        failing >> cleanup()
    return dag


@pytest.fixture(scope="module")
def ended_run(run_dag: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """The DAG run once for the module, captured into a store of its own."""
    from aimops.operators.capture import listener

    home = tmp_path_factory.mktemp("final_states") / "aimops"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIMOPS_HOME", str(home))
        patch.delenv("AIMOPS_STORE_URL", raising=False)
        patch.delenv("AIMOPS_CAPTURE", raising=False)
        listener.reset_sink()
        dag_run = run_dag(final_states_dag(), run_after=MOMENT)
        yield dag_run, home
        listener.reset_sink()


def airflow_states(
    run_id: str, dag_id: str = DAG_ID
) -> dict[tuple[str, int | None], tuple[str, int]]:
    """Each task instance's (state, try number), read from Airflow's database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(
                TaskInstance.task_id,
                TaskInstance.map_index,
                TaskInstance.state,
                TaskInstance.try_number,
            ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
    return {
        (row.task_id, row.map_index if row.map_index >= 0 else None): (
            str(getattr(row.state, "value", row.state)),
            row.try_number,
        )
        for row in rows
    }


def aim_states(
    home: Path, run_id: str, dag_id: str = DAG_ID
) -> dict[tuple[str, int | None], tuple[str, int]]:
    """Each step's (native state, number of tries), read from the AIM store."""
    from aimops.metadata.views import run_details

    with AimStore.open(f"sqlite:///{home / 'aim.db'}", create=False) as store:
        details = run_details(store, str(run_urn("airflow", dag_id, run_id)))
    assert details is not None
    return {
        (step["task_id"], step["map_index"]): (step["native_state"], len(step["attempts"]))
        for step in details["steps"]
    }


def test_the_run_fails_as_airflow_decides(ended_run: tuple[Any, Path]) -> None:
    dag_run, home = ended_run
    assert dag_run.state == "failed"
    grid = airflow_states(dag_run.run_id)
    assert {task: state for (task, _), (state, _) in grid.items()} == EXPECTED
    with AimStore.open(f"sqlite:///{home / 'aim.db'}", create=False) as store:
        info = store.get_aspect(run_urn("airflow", DAG_ID, dag_run.run_id), "runInfo").value
    assert (info["status"], info["native_state"]) == ("failed", "failed")
    assert info["ended_at"] is not None


def test_every_task_instance_is_a_step_in_airflows_state(ended_run: tuple[Any, Path]) -> None:
    dag_run, home = ended_run
    grid = airflow_states(dag_run.run_id)
    recorded = aim_states(home, dag_run.run_id)
    assert {key: state for key, (state, _) in recorded.items()} == {
        key: state for key, (state, _) in grid.items()
    }
    # A task that never ran has no try; the EmptyOperators have the try Airflow gave them.
    for (task, _), (_, tries) in recorded.items():
        assert tries == (0 if task in NEVER_RAN else 1), task


def test_capture_matches_the_golden_document(ended_run: tuple[Any, Path], golden: Any) -> None:
    dag_run, home = ended_run
    run = str(run_urn("airflow", DAG_ID, dag_run.run_id))
    with AimStore.open(f"sqlite:///{home / 'aim.db'}", create=False) as store:
        document = golden.normalise(golden.captured(store, run), dag_run.run_id)
    golden.check("final_states_dag", document)


def test_an_empty_operator_has_the_try_the_scheduler_gave_it(ended_run: tuple[Any, Path]) -> None:
    dag_run, home = ended_run
    with AimStore.open(f"sqlite:///{home / 'aim.db'}", create=False) as store:
        step = step_urn("airflow", DAG_ID, dag_run.run_id, "join")
        info = store.get_aspect(step, "stepInfo").value
        (attempt,) = store.get_aspect(step, "stepAttempts").value["attempts"]
    assert info["operator"].endswith("EmptyOperator")
    assert (info["state"], attempt["try_number"], attempt["state"]) == ("success", 1, "success")
    assert attempt["started_at"] and attempt["ended_at"]


def test_runs_show_lists_what_the_grid_shows(ended_run: tuple[Any, Path]) -> None:
    from aimops.cli import cli

    dag_run, home = ended_run
    urn = str(run_urn("airflow", DAG_ID, dag_run.run_id))
    store_url = f"sqlite:///{home / 'aim.db'}"
    table = CliRunner().invoke(cli, ["runs", "show", urn, "--store", store_url])
    assert table.exit_code == 0, table.output
    lines = {line.split()[0]: line.split() for line in table.output.splitlines()[2:] if line}
    assert lines["after_boom"][1:5] == ["-", "upstream_failed", "upstream_failed", "0"]
    assert lines["not_taken"][1:5] == ["-", "skipped", "skipped", "0"]
    assert lines["join"][1:5] == ["-", "success", "success", "1"]
    as_json = CliRunner().invoke(cli, ["runs", "show", urn, "--store", store_url, "--json"])
    steps = json.loads(as_json.output)["steps"]
    assert sorted(step["task_id"] for step in steps) == sorted(EXPECTED)


def test_a_second_end_event_changes_nothing(ended_run: tuple[Any, Path]) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from aimops.operators.capture import listener

    dag_run, home = ended_run
    with AimStore.open(f"sqlite:///{home / 'aim.db'}", create=False) as store:
        before = len(store.history(run_urn("airflow", DAG_ID, dag_run.run_id)))
        step_versions = {
            urn: len(store.history(urn))
            for urn in [
                e.urn
                for e in store.related(
                    run_urn("airflow", DAG_ID, dag_run.run_id), "partOf", incoming=True
                )
            ]
        }
    with create_session() as session:
        again = DagRun.find(dag_id=DAG_ID, run_id=dag_run.run_id, session=session)[0]
        listener.listener.on_dag_run_failed(again, "ended again")
    assert listener.flush_capture(30.0)
    with AimStore.open(f"sqlite:///{home / 'aim.db'}", create=False) as store:
        assert len(store.history(run_urn("airflow", DAG_ID, dag_run.run_id))) == before
        assert {urn: len(store.history(urn)) for urn in step_versions} == step_versions


BY_HAND = "aimops_by_hand"


def by_hand_dag() -> Any:
    """fit → publish (fails), with an EmptyOperator beside them."""
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, task

    with DAG(BY_HAND, schedule=None, tags=["aimops"]) as dag:

        @task
        def fit() -> int:
            return 1

        @task
        def publish(model: int) -> None:
            raise RuntimeError("the registry is read-only")

        EmptyOperator(task_id="marker") >> publish(fit())
    return dag


@pytest.fixture
def rest_api(airflow_db: Path, sign_in: Any) -> Iterator[Any]:
    """Airflow's real REST API app, in this process (its listener calls reach aimops here)."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with TestClient(create_app("core")) as client:
        client.headers.update(sign_in("admin"))
        yield client


def test_states_set_by_hand_reach_the_steps_and_a_rerun_brings_them_back(
    run_dag: Any, aim_home: Path, rest_api: Any
) -> None:
    from urllib.parse import quote

    from aimops.operators.capture import listener

    moment = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
    dag_run = run_dag(by_hand_dag(), run_after=moment)
    assert dag_run.state == "failed"
    run_id = dag_run.run_id
    run_path = f"/api/v2/dags/{BY_HAND}/dagRuns/{quote(run_id, safe='')}"

    def steps() -> dict[tuple[str, int | None], tuple[str, int]]:
        assert listener.flush_capture(30.0)
        return aim_states(aim_home, run_id, BY_HAND)

    def run_state() -> tuple[str, str]:
        with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}", create=False) as store:
            info = store.get_aspect(run_urn("airflow", BY_HAND, run_id), "runInfo").value
        return info["status"], info["native_state"]

    assert steps() == {
        ("marker", None): ("success", 1),
        ("fit", None): ("success", 1),
        ("publish", None): ("failed", 1),
    }

    # Mark a task that succeeded failed: its try follows; the run stays as Airflow keeps it.
    answer = rest_api.patch(f"{run_path}/taskInstances/fit", json={"new_state": "failed"})
    assert answer.status_code == 200, answer.text
    assert steps()[("fit", None)] == ("failed", 1)
    with AimStore.open(f"sqlite:///{aim_home / 'aim.db'}", create=False) as store:
        step = step_urn("airflow", BY_HAND, run_id, "fit")
        (attempt,) = store.get_aspect(step, "stepAttempts").value["attempts"]
    assert attempt["state"] == "failed" and "manually set" in attempt["error"]
    assert run_state() == ("failed", "failed")
    assert airflow_states(run_id, BY_HAND)[("fit", None)][0] == "failed"

    # Mark the whole run success: Airflow marks its task instances success, and so do the steps.
    answer = rest_api.patch(run_path, json={"state": "success"})
    assert answer.status_code == 200, answer.text
    grid = airflow_states(run_id, BY_HAND)
    assert {key: state for key, (state, _) in grid.items()} == dict.fromkeys(grid, "success")
    assert steps() == {key: ("success", 1) for key in grid}
    assert run_state() == ("success", "success")

    # Re-running the whole run brings what is recorded back to the new truth, duplicating nothing.
    again = run_dag(by_hand_dag(), run_after=moment)
    assert again.run_id == run_id and again.state == "failed"
    assert steps() == {
        ("marker", None): ("success", 1),
        ("fit", None): ("success", 1),
        ("publish", None): ("failed", 1),
    }
    assert run_state() == ("failed", "failed")
