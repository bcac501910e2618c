"""A run's end against what the store holds: only what differs is written, and once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aimops.metadata.capture.events import CaptureEvent, apply_event
from aimops.metadata.capture.final_states import FinalTask, add_final_states, recorded_steps
from aimops.metadata.capture.sink import CaptureSink
from aimops.metadata.capture.spool import Spool
from aimops.metadata.store import AimStore
from aimops.metadata.urns import run_urn, step_urn

RUN = run_urn("airflow", "etl", "r1")
BEGAN = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def end(store: AimStore, tasks: list[FinalTask]) -> int:
    event = CaptureEvent(source="airflow")
    event.run(orchestrator="airflow", pipeline="etl", run_id="r1", native_state="failed")
    changed = add_final_states(event, RUN, tasks, recorded_steps(store, RUN))
    apply_event(store, event)
    return changed


def state_and_tries(store: AimStore, task_id: str) -> tuple[str, list[tuple[int, str]]]:
    step = step_urn("airflow", "etl", "r1", task_id)
    info = store.get_aspect(step, "stepInfo").value
    attempts = store.get_aspect(step, "stepAttempts")
    tries = [
        (a["try_number"], a["native_state"])
        for a in (attempts.value if attempts else {}).get("attempts", [])
    ]
    return info["native_state"], tries


def test_a_task_that_never_ran_is_a_step_without_tries() -> None:
    store = AimStore.open("sqlite://")
    assert end(store, [FinalTask("train", None, "upstream_failed", 0)]) == 1
    assert state_and_tries(store, "train") == ("upstream_failed", [])
    info = store.get_aspect(step_urn("airflow", "etl", "r1", "train"), "stepInfo").value
    assert info["state"] == "upstream_failed"


def test_a_try_no_hook_saw_is_added_with_its_times() -> None:
    store = AimStore.open("sqlite://")
    task = FinalTask(
        "marker", None, "success", 1, "EmptyOperator", BEGAN, BEGAN + timedelta(seconds=2)
    )
    end(store, [task])
    assert state_and_tries(store, "marker") == ("success", [(1, "success")])
    attempts = store.get_aspect(step_urn("airflow", "etl", "r1", "marker"), "stepAttempts").value
    assert attempts["attempts"][0]["duration_s"] == 2.0


def test_a_state_set_by_hand_rewrites_that_try() -> None:
    store = AimStore.open("sqlite://")
    end(store, [FinalTask("fit", None, "success", 1)])
    assert end(store, [FinalTask("fit", None, "failed", 1)]) == 1
    assert state_and_tries(store, "fit") == ("failed", [(1, "failed")])


def test_after_a_clear_a_skip_keeps_the_earlier_tries() -> None:
    store = AimStore.open("sqlite://")
    end(store, [FinalTask("report", None, "success", 1)])
    end(store, [FinalTask("report", None, "upstream_failed", 1)])
    assert state_and_tries(store, "report") == ("upstream_failed", [(1, "success")])


def test_map_indexes_are_steps_of_their_own() -> None:
    store = AimStore.open("sqlite://")
    end(store, [FinalTask("score", 0, "success", 1), FinalTask("score", 1, "skipped", 0)])
    infos = store.latest_values(
        [step_urn("airflow", "etl", "r1", "score", i) for i in (0, 1)], "stepInfo"
    )
    assert sorted((v["map_index"], v["native_state"]) for v in infos.values()) == [
        (0, "success"),
        (1, "skipped"),
    ]


def test_the_same_end_twice_writes_nothing_new() -> None:
    store = AimStore.open("sqlite://")
    tasks = [FinalTask("a", None, "success", 1), FinalTask("b", None, "skipped", 0)]
    end(store, tasks)
    versions = {urn: len(store.history(urn)) for urn in recorded_steps(store, RUN)}
    assert end(store, tasks) == 0
    assert {urn: len(store.history(urn)) for urn in recorded_steps(store, RUN)} == versions


def test_a_sink_writes_a_state_that_comes_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Ran, ended, cleared: the same 'running' op must be written again, not skipped."""
    sink = CaptureSink(f"sqlite:///{tmp_path / 'aim.db'}", spool=Spool(tmp_path / "spool"))

    def run_in(state: str) -> None:
        event = CaptureEvent(source="airflow")
        event.run(orchestrator="airflow", pipeline="etl", run_id="r1", native_state=state)
        assert sink.emit(event) == "stored"

    for state in ("running", "success", "running"):
        run_in(state)
    assert sink.read(lambda store: store.get_aspect(RUN, "runInfo").value["status"]) == "running"
    sink.close()


def test_a_sink_read_on_an_unreachable_store_is_none(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sink = CaptureSink(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", spool=Spool(tmp_path / "spool"), timeout=0.5
    )
    assert sink.read(lambda store: recorded_steps(store, RUN)) is None
