"""Recording runs as pipelines do: retries are attempts, replays change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aimops.errors import InvalidInputError, MissingEntityError
from aimops.metadata import AimStore
from aimops.metadata.recording import (
    record_artifact,
    record_attempt,
    record_dataset,
    record_io,
    record_model_version,
    record_run,
    record_step,
)
from aimops.metadata.views import list_models, list_runs, model_details, run_details

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _run(store: AimStore, run_id: str = "manual__2026-03-01T08:00:00+00:00") -> str:
    return str(
        record_run(
            store,
            orchestrator="airflow",
            pipeline="train",
            run_id=run_id,
            native_state="running",
            started_at=T0,
        )
    )


def test_a_retry_is_a_second_attempt_of_the_same_step(store: AimStore) -> None:
    run = _run(store)
    step = record_step(store, run, "fit", operator="PythonOperator")
    record_attempt(store, step, 1, native_state="running", started_at=T0, hostname="w1")
    record_attempt(
        store, step, 1, native_state="up_for_retry", ended_at=T0 + timedelta(1), error="OOM"
    )
    record_attempt(store, step, 2, native_state="running", started_at=T0 + timedelta(2))
    record_attempt(store, step, 2, native_state="success", ended_at=T0 + timedelta(3))

    details = run_details(store, run)
    assert details is not None
    assert [s["task_id"] for s in details["steps"]] == ["fit"]
    fit = details["steps"][0]
    assert fit["state"] == "success"
    assert [(a["try_number"], a["state"], a["native_state"]) for a in fit["attempts"]] == [
        (1, "failed", "up_for_retry"),
        (2, "success", "success"),
    ]
    assert fit["attempts"][0]["error"] == "OOM"
    assert fit["attempts"][0]["hostname"] == "w1"
    assert fit["started_at"] == "2026-03-01T08:00:00Z"


def test_a_retry_that_is_running_again_has_no_end(store: AimStore) -> None:
    run = _run(store)
    step = record_step(store, run, "fit")
    record_attempt(store, step, 1, native_state="up_for_retry", started_at=T0, ended_at=T0)
    record_attempt(store, step, 2, native_state="running", started_at=T0 + timedelta(1))
    details = run_details(store, run)
    assert details is not None
    fit = details["steps"][0]
    assert (fit["state"], fit["started_at"], fit["ended_at"]) == (
        "running",
        "2026-03-01T08:00:00Z",
        None,
    )


def test_replaying_the_same_events_adds_no_versions(store: AimStore) -> None:
    def replay() -> None:
        run = _run(store)
        step = record_step(store, run, "fit")
        record_attempt(store, step, 1, native_state="success", started_at=T0, ended_at=T0)
        data = record_dataset(store, "customers", uri="file:///data/c.csv")
        record_io(store, step, consumed=[data])

    replay()
    before = store.count(), sum(len(store.history(e.urn)) for e in store.search(limit=1000))
    replay()
    after = store.count(), sum(len(store.history(e.urn)) for e in store.search(limit=1000))
    assert before == after


def test_mapped_tasks_are_one_step_per_map_index(store: AimStore) -> None:
    run = _run(store)
    steps = {str(record_step(store, run, "score", map_index=i)) for i in range(3)}
    record_step(store, run, "score", map_index=1)
    assert len(steps) == 3
    details = run_details(store, run)
    assert details is not None
    assert sorted(s["map_index"] for s in details["steps"]) == [0, 1, 2]


def test_same_task_ids_in_two_pipelines_do_not_collide(store: AimStore) -> None:
    a = record_run(store, orchestrator="airflow", pipeline="a", run_id="r", native_state="success")
    b = record_run(store, orchestrator="airflow", pipeline="b", run_id="r", native_state="failed")
    assert record_step(store, a, "train") != record_step(store, b, "train")
    statuses = {row["pipeline"]: row["status"] for row in list_runs(store)}
    assert statuses == {"a": "success", "b": "failed"}


def test_run_fields_left_out_keep_what_was_recorded(store: AimStore) -> None:
    _run(store, "manual__1")
    record_run(
        store,
        orchestrator="airflow",
        pipeline="train",
        run_id="manual__1",
        native_state="success",
        ended_at=T0 + timedelta(hours=1),
    )
    row = list_runs(store)[0]
    assert (row["status"], row["native_state"]) == ("success", "success")
    assert row["started_at"] == "2026-03-01T08:00:00Z"
    assert row["ended_at"] == "2026-03-01T09:00:00Z"
    assert row["run_id"] == "manual__1"
    assert len(list_runs(store)) == 1


def test_runs_are_listed_newest_first_with_paging(store: AimStore) -> None:
    for number in range(5):
        record_run(store, orchestrator="python", pipeline="p", run_id=str(number))
    assert [r["run_id"] for r in list_runs(store)] == ["4", "3", "2", "1", "0"]
    assert [r["run_id"] for r in list_runs(store, limit=2, offset=1)] == ["3", "2"]


def test_inputs_outputs_and_model_versions(store: AimStore) -> None:
    run = _run(store)
    step = record_step(store, run, "train")
    data = record_dataset(store, "customers", rows=1000, columns=["age", "plan"])
    model_file = record_artifact(store, "model.skops", kind="model", key=["train", "model.skops"])
    record_io(store, step, consumed=[data], produced=[model_file])
    version = record_model_version(store, "churn", 1, uri="models:/churn/1", produced_by=step)

    details = run_details(store, run)
    assert details is not None
    train = details["steps"][0]
    assert train["inputs"] == [{"urn": "urn:aim:dataset:customers", "type": "dataset"}]
    assert {o["urn"] for o in train["outputs"]} == {str(model_file), str(version)}
    assert list_models(store)[0]["versions"] == 1
    model = model_details(store, "churn")
    assert model is not None
    assert model["versions"][0]["produced_by"] == [str(step)]


def test_steps_and_attempts_need_the_right_parents(store: AimStore) -> None:
    with pytest.raises(InvalidInputError, match="a step belongs to a run"):
        record_step(store, "urn:aim:dataset:x", "t")
    with pytest.raises(InvalidInputError, match="attempts belong to a step"):
        record_attempt(store, "urn:aim:dataset:x", 1, state="success")
    with pytest.raises(MissingEntityError):
        record_step(store, "urn:aim:run:python/p/never-recorded", "t")
    with pytest.raises(InvalidInputError):
        record_attempt(store, "urn:aim:step:python/p/r/t", 0, state="success")
    assert store.count() == 0


def test_unknown_runs_and_models_read_as_none(store: AimStore) -> None:
    assert run_details(store, "urn:aim:run:python/p/none") is None
    assert model_details(store, "nope") is None


def test_a_run_that_runs_again_has_no_end_until_it_ends_again(store: AimStore) -> None:
    ended = datetime(2026, 1, 1, 12, tzinfo=UTC)
    run = record_run(
        store,
        orchestrator="airflow",
        pipeline="p",
        run_id="r",
        native_state="success",
        ended_at=ended,
    )
    record_run(store, orchestrator="airflow", pipeline="p", run_id="r", native_state="running")
    info = store.get_aspect(run, "runInfo").value
    assert (info["status"], info["ended_at"]) == ("running", None)
