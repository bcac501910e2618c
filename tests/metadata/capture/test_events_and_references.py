"""Capture events and task references: what adapters build, and how it reads back."""

from __future__ import annotations

import json

import pytest

import aimops
from aimops.errors import InvalidInputError
from aimops.metadata.capture.events import CaptureEvent, apply_event
from aimops.metadata.references import (
    declared_references,
    find_references,
    forget_declared_references,
    is_reference,
)
from aimops.metadata.store import AimStore


def test_references_are_plain_json_that_survive_a_round_trip() -> None:
    ref = aimops.dataset_ref("churn-train", uri="s3://b/train.parquet", rows=10, columns=["a"])
    assert json.loads(json.dumps(ref)) == ref
    assert is_reference(ref) and ref["urn"] == "urn:aim:dataset:churn-train"
    version = aimops.model_version_ref("churn", 7, mlflow_run_id="abc")
    assert version["urn"] == "urn:aim:modelVersion:churn/7" and version["version"] == "7"
    artifact = aimops.artifact_ref("model.bin", key=["churn", "run-1", "model"])
    assert artifact["urn"] == "urn:aim:artifact:churn/run-1/model"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: aimops.dataset_ref(""), "non-empty"),
        (lambda: aimops.dataset_ref("x", rows=-1), "rows"),
        (lambda: aimops.dataset_ref("x", rows=True), "rows"),
        (lambda: aimops.artifact_ref("m", key=["a", ""]), "key"),
        (lambda: aimops.model_version_ref("", 1), "empty key segment"),
    ],
)
def test_bad_references_name_what_is_wrong(make: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        make()  # type: ignore[operator]


def test_references_are_found_nested_and_once_each() -> None:
    a = aimops.dataset_ref("a")
    b = aimops.artifact_ref("b")
    value = {"splits": [a, {"again": a}], "model": (b,), "note": "not a ref", "n": 3}
    assert [r["urn"] for r in find_references(value)] == [a["urn"], b["urn"]]
    assert find_references({"aimops_ref": "dataset"}) == []  # a look-alike without a URN


def test_references_made_in_a_task_are_remembered_until_the_next_task() -> None:
    forget_declared_references()
    made = aimops.dataset_ref("out")
    assert declared_references() == [made]
    forget_declared_references()
    assert declared_references() == []


def test_an_event_is_recorded_whole_or_not_at_all(tmp_path: object) -> None:
    store = AimStore.open("sqlite://")
    event = CaptureEvent(source="python")
    run = event.run(orchestrator="python", pipeline="p", run_id="r1", state="running")
    step = event.step(run, "train")
    event.io(step, consumed=["urn:aim:dataset:never-recorded"])  # the edge's target is missing
    with pytest.raises(InvalidInputError):
        apply_event(store, event)
    assert store.get_entity(run) is None  # the run before it was rolled back too


def test_events_round_trip_through_json_and_refuse_garbage() -> None:
    event = CaptureEvent(source="airflow")
    event.reference(aimops.model_version_ref("m", 1))
    again = CaptureEvent.from_json(event.to_json())
    assert (again.id, again.source, again.ops) == (event.id, event.source, event.ops)
    for bad in ("not json", '{"format": 99}', '{"format": 1, "ops": [["run"]]}'):
        with pytest.raises(InvalidInputError):
            CaptureEvent.from_json(bad)
    with pytest.raises(InvalidInputError, match="unknown capture operation"):
        event.add("drop_table")
    unknown = CaptureEvent.from_json('{"format": 1, "id": "x", "ops": [["drop_table", {}]]}')
    with pytest.raises(InvalidInputError, match="unknown operation"):
        apply_event(AimStore.open("sqlite://"), unknown)


def test_every_operation_an_event_may_hold_can_be_applied() -> None:
    from aimops.metadata.capture.events import OPERATIONS, _handlers

    assert set(_handlers()) == OPERATIONS


def test_applying_an_event_twice_adds_no_version() -> None:
    store = AimStore.open("sqlite://")
    event = CaptureEvent(source="python")
    run = event.run(orchestrator="python", pipeline="p", run_id="r1", native_state="running")
    step = event.step(run, "train", operator="fit")
    event.attempt(step, 1, state="success", rendered_fields={"x": "1"})
    event.reference(aimops.dataset_ref("d"))
    event.io(step, produced=["urn:aim:dataset:d"])
    apply_event(store, event)
    history = {urn: len(store.history(urn)) for urn in (run, step)}
    apply_event(store, CaptureEvent.from_json(event.to_json()))
    assert {urn: len(store.history(urn)) for urn in (run, step)} == history
