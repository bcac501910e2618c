"""Capture under the conditions users report bugs about: re-runs, name clashes, outages.

Each DAG here is small on purpose: ``dag.test()`` costs a few seconds per task.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from aimops.metadata.store import AimStore
from aimops.metadata.urns import run_urn, step_urn


def two_step_dag(dag_id: str, *, fail_second: bool = False) -> Any:
    """load → fit."""
    from airflow.sdk import DAG, Asset, task

    import aimops

    with DAG(dag_id, schedule=None, tags=["aimops"]) as dag:

        @task(outlets=[Asset(name=f"{dag_id}-raw", uri=f"file:///data/{dag_id}.csv")])
        def load() -> dict[str, Any]:
            return aimops.dataset_ref(f"{dag_id}-clean", rows=3)

        @task
        def fit(data: dict[str, Any]) -> dict[str, Any]:
            if fail_second:
                raise ValueError("the labels are all one class")
            return aimops.artifact_ref("model.bin", key=[dag_id, "model"])

        fit(load())
    return dag


def counts(store: AimStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            "entities": connection.execute(text("SELECT count(*) FROM aim_entities")).scalar_one(),
            "edges": connection.execute(text("SELECT count(*) FROM aim_edges")).scalar_one(),
            "steps": store.count("step"),
            "datasets": store.count("dataset"),
            "artifacts": store.count("artifact"),
        }


def _store(home: Path) -> AimStore:
    return AimStore.open(f"sqlite:///{home / 'aim.db'}")


def test_rerunning_a_dag_run_duplicates_nothing(run_dag: Any, aim_home: Path) -> None:
    moment = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    first = run_dag(two_step_dag("aimops_rerun"), run_after=moment)
    with _store(aim_home) as store:
        before = counts(store)
    again = run_dag(two_step_dag("aimops_rerun"), run_after=moment)  # the same run, run again
    assert again.run_id == first.run_id and again.state == "success"
    with _store(aim_home) as store:
        assert counts(store) == before
        step = step_urn("airflow", "aimops_rerun", first.run_id, "fit")
        attempts = store.get_aspect(step, "stepAttempts").value["attempts"]
        assert [a["try_number"] for a in attempts] == [1]
    # project, pipeline, run, 2 steps, 2 data sets, 1 artifact; 4 partOf + 4 lineage edges
    assert before == {"entities": 8, "edges": 8, "steps": 2, "datasets": 2, "artifacts": 1}


def test_dags_with_the_same_task_ids_never_collide(run_dag: Any, aim_home: Path) -> None:
    moment = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    good = run_dag(two_step_dag("aimops_twin_a"), run_after=moment)
    bad = run_dag(two_step_dag("aimops_twin_b", fail_second=True), run_after=moment)
    assert good.run_id == bad.run_id  # same run id, same task ids: only the DAG differs
    with _store(aim_home) as store:
        good_fit = store.get_aspect(
            step_urn("airflow", "aimops_twin_a", good.run_id, "fit"), "stepInfo"
        )
        bad_fit = store.get_aspect(
            step_urn("airflow", "aimops_twin_b", bad.run_id, "fit"), "stepInfo"
        )
        assert good_fit.value["state"] == "success"
        assert bad_fit.value["state"] == "failed"
        bad_run = store.get_aspect(run_urn("airflow", "aimops_twin_b", bad.run_id), "runInfo")
        assert bad_run.value["status"] == "failed"
        attempt = store.get_aspect(
            step_urn("airflow", "aimops_twin_b", bad.run_id, "fit"), "stepAttempts"
        ).value["attempts"][0]
        assert attempt["error"] == "ValueError: the labels are all one class"
        assert store.count("step") == 4


def test_only_references_a_task_made_and_returned_are_its_outputs(
    run_dag: Any, aim_home: Path
) -> None:
    from airflow.sdk import DAG, task

    import aimops

    with DAG("aimops_refs", schedule=None, tags=["aimops"]) as dag:

        @task
        def make() -> dict[str, Any]:
            champion = aimops.model_version_ref("churn", 1)  # made only to compare with
            assert champion["version"] == "1"
            return aimops.dataset_ref("scores")

        @task
        def check(scores: dict[str, Any]) -> dict[str, Any]:
            return scores  # passed on, not made here

        check(make())
    dag_run = run_dag(dag)
    with _store(aim_home) as store:
        make_step = step_urn("airflow", "aimops_refs", dag_run.run_id, "make")
        check_step = step_urn("airflow", "aimops_refs", dag_run.run_id, "check")
        assert [e.urn for e in store.related(make_step, "produced")] == ["urn:aim:dataset:scores"]
        assert store.get_entity("urn:aim:modelVersion:churn/1") is None
        assert [e.urn for e in store.related(check_step, "consumed")] == ["urn:aim:dataset:scores"]
        assert store.related(check_step, "produced") == []


def test_an_unreachable_store_spools_and_replay_restores_everything(
    run_dag: Any,
    aim_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    aimops_command: Any,
) -> None:
    from aimops.operators.capture import listener

    monkeypatch.setenv("AIMOPS_STORE_URL", "postgresql://aim:hunter2-secret@127.0.0.1:9/aim")
    listener.reset_sink()
    dag_run = run_dag(two_step_dag("aimops_outage"))
    assert dag_run.state == "success"  # capture trouble never changes the outcome
    spooled = aim_home / "spool" / "events.jsonl"
    lines = spooled.read_text().splitlines()
    assert len(lines) == 5  # 2 tasks x (start, end) + the run's end
    assert "hunter2-secret" not in caplog.text
    warnings = [r for r in caplog.records if "cannot take capture events" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not per event

    target = f"sqlite:///{aim_home / 'replayed.db'}"
    replay = aimops_command("spool", "replay", "--store", target, "--json", home=aim_home)
    assert json.loads(replay) | {"store": "x"} == {
        "store": "x",
        "spool": str(aim_home / "spool"),
        "applied": 5,
        "rejected": 0,
        "remaining": 0,
    }
    with AimStore.open(target) as store:
        run = store.get_aspect(run_urn("airflow", "aimops_outage", dag_run.run_id), "runInfo")
        assert run.value["status"] == "success"
        before = counts(store)
        versions = len(store.history(step_urn("airflow", "aimops_outage", dag_run.run_id, "fit")))
    again = aimops_command("spool", "replay", "--store", target, "--json", home=aim_home)
    assert json.loads(again)["applied"] == 0
    with AimStore.open(target) as store:
        assert counts(store) == before
        fit = step_urn("airflow", "aimops_outage", dag_run.run_id, "fit")
        assert len(store.history(fit)) == versions
    assert before["steps"] == 2 and before["datasets"] == 2


def test_the_kill_switch_turns_capture_off(
    run_dag: Any, aim_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__AIMOPS__CAPTURE", "off")
    dag_run = run_dag(two_step_dag("aimops_switched_off"))
    assert dag_run.state == "success"
    assert not (aim_home / "aim.db").exists()
    assert not (aim_home / "spool" / "events.jsonl").exists()


@pytest.mark.postgres
def test_capture_into_postgresql_matches_sqlite(
    run_dag: Any,
    aim_home: Path,
    postgres_store: AimStore,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    golden: Any,
) -> None:
    from aimops.operators.capture import listener

    moment = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
    on_sqlite = run_dag(two_step_dag("aimops_on_both"), run_after=moment)
    monkeypatch.setenv("AIMOPS_STORE_URL", postgres_url)
    listener.reset_sink()
    on_postgres = run_dag(two_step_dag("aimops_on_both"), run_after=moment)
    assert on_postgres.state == "success" and on_postgres.run_id == on_sqlite.run_id
    assert not (aim_home / "spool" / "events.jsonl").exists()
    run = str(run_urn("airflow", "aimops_on_both", on_sqlite.run_id))
    with _store(aim_home) as sqlite_store:
        expected = golden.normalise(golden.captured(sqlite_store, run), on_sqlite.run_id)
    found = golden.normalise(golden.captured(postgres_store, run), on_postgres.run_id)
    assert found == expected
    assert len(found["steps"]) == 2 and found["run"]["runInfo"]["status"] == "success"
