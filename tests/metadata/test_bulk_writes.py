"""Many entities in one breath: the writer's bulk calls and the run-end recording built on them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aimops.errors import InvalidInputError
from aimops.metadata import recording
from aimops.metadata.store import AimStore
from aimops.metadata.urns import run_urn, step_urn

RUN = run_urn("airflow", "etl", "r1")
MOMENT = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def datasets(count: int) -> list[str]:
    return [f"urn:aim:dataset:part-{n}" for n in range(count)]


def test_put_many_writes_versions_and_keeps_equal_values(store: AimStore) -> None:
    with store.transaction() as tx:
        tx.put_aspect(datasets(1)[0], "datasetInfo", {"name": "part-0", "rows": 1})
    items = [
        (urn, "datasetInfo", {"name": urn.rsplit(":", 1)[1], "rows": 1}) for urn in datasets(3)
    ]
    with store.transaction() as tx:
        assert tx.put_many(items) == [1, 1, 1]  # part-0 was equal: kept at version 1
    with store.transaction() as tx:
        moved = {"name": "part-0", "rows": 1, "uri": "s3://new/part-0"}
        assert tx.put_many([(datasets(1)[0], "datasetInfo", moved)]) == [2]
    assert store.get_aspect(datasets(1)[0], "datasetInfo").value["uri"] == "s3://new/part-0"
    found = store.search("dataset", where=[("datasetInfo.uri", "=", "s3://new/part-0")])
    assert [e.urn for e in found] == [datasets(1)[0]]  # the searchable fields follow
    assert store.count("dataset") == 3


def test_put_many_writes_nothing_when_one_value_is_invalid(store: AimStore) -> None:
    items = [(urn, "datasetInfo", {"name": "ok"}) for urn in datasets(2)]
    items.append(("urn:aim:dataset:bad", "datasetInfo", {"rows": "many"}))
    with pytest.raises(InvalidInputError), store.transaction() as tx:
        tx.put_many(items)
    assert store.count("dataset") == 0


def test_entity_lookups_span_more_than_one_chunk(store: AimStore) -> None:
    from aimops.metadata import writer

    urns = datasets(writer.CHUNK + 7)
    with store.transaction() as tx:
        ids = tx.put_entities(urns)
    assert len(set(ids.values())) == len(urns)
    with store.transaction() as tx:
        assert tx.entity_ids(urns) == ids


def test_record_final_steps_merges_with_what_is_recorded(store: AimStore) -> None:
    recording.record_run(store, orchestrator="airflow", pipeline="etl", run_id="r1")
    step = recording.record_step(store, RUN, "fit", operator="PythonOperator")
    recording.record_attempt(store, step, 1, native_state="success", hostname="worker-1")
    recording.record_final_steps(
        store,
        RUN,
        [
            {
                "task_id": "fit",
                "native_state": "failed",
                "attempt": {"try_number": 1, "native_state": "failed", "ended_at": MOMENT},
            },
            {"task_id": "report", "native_state": "upstream_failed"},
            {"task_id": "score", "map_index": 2, "native_state": "skipped"},
        ],
    )
    fit = store.get_aspect(step, "stepInfo").value
    (attempt,) = store.get_aspect(step, "stepAttempts").value["attempts"]
    assert (fit["state"], fit["operator"]) == ("failed", "PythonOperator")
    assert (attempt["state"], attempt["hostname"]) == ("failed", "worker-1")  # merged, not replaced
    report = store.get_aspect(step_urn("airflow", "etl", "r1", "report"), "stepInfo").value
    assert report["state"] == "upstream_failed"
    assert store.get_aspect(step_urn("airflow", "etl", "r1", "report"), "stepAttempts") is None
    score = store.get_aspect(step_urn("airflow", "etl", "r1", "score", 2), "stepInfo").value
    assert score["map_index"] == 2
    assert len(store.related(RUN, "partOf", incoming=True)) == 3


def test_record_final_steps_names_a_bad_state(store: AimStore) -> None:
    recording.record_run(store, orchestrator="airflow", pipeline="etl", run_id="r1")
    with pytest.raises(InvalidInputError, match="unknown airflow state 'exploded'"):
        recording.record_final_steps(store, RUN, [{"task_id": "fit", "native_state": "exploded"}])
