"""The store on SQLite and PostgreSQL: versions, idempotency, validation, search, points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aimops.errors import (
    ConcurrentUpdateError,
    InvalidAspectError,
    InvalidInputError,
    MalformedUrnError,
    MissingEntityError,
    UnknownAspectError,
    UnknownRelationError,
)
from aimops.metadata import AimStore

MODEL = "urn:aim:model:churn"
DATA = "urn:aim:dataset:customers"


def test_first_version_is_one_and_each_change_appends(store: AimStore) -> None:
    assert store.put_aspect(MODEL, "modelInfo", {"name": "churn"}) == 1
    assert store.put_aspect(MODEL, "modelInfo", {"name": "churn", "owner": "risk"}) == 2
    latest = store.get_aspect(MODEL, "modelInfo")
    assert latest is not None
    assert (latest.version, latest.value["owner"], latest.actor) == (2, "risk", "tester")
    first = store.get_aspect(MODEL, "modelInfo", version=1)
    assert first is not None and first.value["owner"] is None


def test_writing_the_latest_value_again_is_a_no_op(store: AimStore) -> None:
    store.put_aspect(MODEL, "tags", {"team": "risk"})
    assert store.put_aspect(MODEL, "tags", {"team": "risk"}) == 1
    assert len(store.history(MODEL, "tags")) == 1


def test_expected_version_guards_against_lost_updates(store: AimStore) -> None:
    assert store.put_aspect(MODEL, "tags", {"a": "1"}, expected_version=0) == 1
    with pytest.raises(ConcurrentUpdateError, match="expected version 0, but the latest is 1"):
        store.put_aspect(MODEL, "tags", {"a": "2"}, expected_version=0)
    assert store.put_aspect(MODEL, "tags", {"a": "2"}, expected_version=1) == 2
    assert [v.value for v in store.history(MODEL, "tags")] == [{"a": "1"}, {"a": "2"}]


def test_history_is_oldest_first_across_aspects(store: AimStore) -> None:
    store.put_aspect(MODEL, "modelInfo", {"name": "churn"})
    store.put_aspect(MODEL, "tags", {"a": "1"})
    store.put_aspect(MODEL, "tags", {"a": "2"})
    history = store.history(MODEL)
    assert [(v.aspect, v.version) for v in history] == [
        ("modelInfo", 1),
        ("tags", 1),
        ("tags", 2),
    ]
    assert all(v.created_at.tzinfo is not None for v in history)


def test_get_aspects_returns_latest_of_each(store: AimStore) -> None:
    store.put_aspect(MODEL, "modelInfo", {"name": "churn"})
    store.put_aspect(MODEL, "tags", {"a": "1"})
    store.put_aspect(MODEL, "tags", {"a": "2"})
    latest = store.get_aspects(MODEL)
    assert {name: v.version for name, v in latest.items()} == {"modelInfo": 1, "tags": 2}


def test_missing_things_read_as_none_or_empty(store: AimStore) -> None:
    assert store.get_entity(MODEL) is None
    assert store.get_aspect(MODEL, "modelInfo") is None
    assert store.history(MODEL) == []
    assert store.lineage(MODEL).nodes == []


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.put_aspect("urn:aim:nope:x", "tags", {}), MalformedUrnError),
        (lambda s: s.put_aspect(MODEL, "colour", {}), UnknownAspectError),
        (lambda s: s.put_aspect(MODEL, "metrics", {"auroc": float("nan")}), InvalidAspectError),
        (lambda s: s.put_aspect(MODEL, "runInfo", {}), InvalidAspectError),
        (lambda s: s.put_edge(MODEL, "consumed", DATA), MissingEntityError),
        (
            lambda s: s.put_points(MODEL, "latency", [(datetime.now(UTC), float("inf"))]),
            InvalidInputError,
        ),
    ],
)
def test_bad_input_raises_and_writes_nothing(store: AimStore, call, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        call(store)
    assert store.get_entity(MODEL) is None
    assert store.count() == 0


def test_unknown_relation_is_refused(store: AimStore) -> None:
    store.put_entity(MODEL)
    store.put_entity(DATA)
    with pytest.raises(UnknownRelationError, match="likes"):
        store.put_edge(MODEL, "likes", DATA)


def test_a_failed_batch_leaves_nothing(store: AimStore) -> None:
    with pytest.raises(MissingEntityError), store.transaction() as tx:
        tx.put_aspect(MODEL, "modelInfo", {"name": "churn"})
        tx.put_aspect(DATA, "datasetInfo", {"name": "customers"})
        tx.put_edge(MODEL, "consumed", "urn:aim:dataset:ghost")
    assert store.count() == 0


def test_edges_are_idempotent_and_queryable_both_ways(store: AimStore) -> None:
    step = "urn:aim:step:python/p/1/train"
    for urn in (step, DATA):
        store.put_entity(urn)
    store.put_edge(step, "consumed", DATA)
    store.put_edge(step, "consumed", DATA)
    assert [e.urn for e in store.related(step, "consumed")] == [DATA]
    assert [e.urn for e in store.related(DATA, "consumed", incoming=True)] == [step]


def test_search_by_type_tag_and_metric(store: AimStore) -> None:
    for number, auroc in enumerate([0.95, 0.85, 0.92]):
        run = f"urn:aim:run:python/p/{number}"
        store.put_aspect(run, "metrics", {"auroc": auroc})
        store.put_aspect(run, "tags", {"team": "risk" if number != 1 else "growth"})
    store.put_aspect(MODEL, "tags", {"team": "risk"})

    good = store.search("run", where=[("metrics.auroc", ">", 0.9)])
    assert [e.urn for e in good] == ["urn:aim:run:python/p/2", "urn:aim:run:python/p/0"]
    assert next(e.urn for e in store.search(tags={"team": "risk"})) == MODEL
    assert store.count("run", tags={"team": "risk"}) == 2
    assert store.count("run", where=[("metrics.auroc", "<=", 0.85)]) == 1
    page = store.search("run", limit=1, offset=1)
    assert [e.urn for e in page] == ["urn:aim:run:python/p/1"]


def test_search_follows_the_latest_version_only(store: AimStore) -> None:
    run = "urn:aim:run:python/p/1"
    store.put_aspect(run, "metrics", {"auroc": 0.95})
    store.put_aspect(run, "metrics", {"auroc": 0.5})
    assert store.search("run", where=[("metrics.auroc", ">", 0.9)]) == []


@pytest.mark.parametrize(
    "condition",
    [("metrics", ">", 1), ("metrics.auroc", "~", 1), ("nope.x", "=", 1), ("metrics.a", "=", None)],
)
def test_bad_search_conditions_are_explained(store: AimStore, condition) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError):
        store.search("run", where=[condition])


def test_time_series_points_in_order_and_replays_kept_once(store: AimStore) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [(start + timedelta(minutes=m), float(m)) for m in (2, 0, 1)]
    store.put_points(MODEL, "latency_p95_ms", points)
    store.put_points(MODEL, "latency_p95_ms", points)
    read = store.get_points(MODEL, "latency_p95_ms")
    assert [p.value for p in read] == [0.0, 1.0, 2.0]
    assert read[0].timestamp == start
    since = store.get_points(MODEL, "latency_p95_ms", since=start + timedelta(minutes=1))
    assert [p.value for p in since] == [1.0, 2.0]


def test_non_ascii_and_long_values_round_trip(store: AimStore) -> None:
    name = "données clients — été"
    store.put_aspect("urn:aim:dataset:d%C3%A9j%C3%A0", "datasetInfo", {"name": name})
    info = store.get_aspect("urn:aim:dataset:déjà", "datasetInfo")
    assert info is not None and info.value["name"] == name


def test_writing_around_an_open_transaction_is_refused_not_hung(store: AimStore) -> None:
    with store.transaction() as tx:
        tx.put_aspect(MODEL, "tags", {"a": "1"})
        assert store.get_entity(DATA) is None  # reads are fine
        with pytest.raises(InvalidInputError, match="write through the writer"):
            store.put_aspect(DATA, "datasetInfo", {"name": "customers"})
    store.put_aspect(DATA, "datasetInfo", {"name": "customers"})
    assert store.get_aspect(MODEL, "tags") is not None


def test_related_values_gives_each_neighbour_with_its_latest_aspect_in_one_read(
    store: AimStore,
) -> None:
    model = "urn:aim:model:churn"
    store.put_aspect(model, "modelInfo", {"name": "churn"})
    for number in (1, 2):
        store.put_entity(f"urn:aim:modelVersion:churn/{number}")
        store.put_edge(f"urn:aim:modelVersion:churn/{number}", "versionOf", model)
    store.put_aspect("urn:aim:modelVersion:churn/2", "tags", {"stage": "a"})
    store.put_aspect("urn:aim:modelVersion:churn/2", "tags", {"stage": "b"})
    assert store.related_values(model, "versionOf", "tags", incoming=True) == {
        "urn:aim:modelVersion:churn/1": None,
        "urn:aim:modelVersion:churn/2": {"stage": "b"},
    }
    found = store.related_values("urn:aim:modelVersion:churn/1", "versionOf", "modelInfo")
    assert list(found) == [model] and found[model]["name"] == "churn"
    assert store.related_values("urn:aim:model:nope", "versionOf", "tags", incoming=True) == {}


def test_reads_inside_reading_share_one_connection(store: AimStore) -> None:
    from sqlalchemy import event

    checkouts: list[object] = []
    listener = lambda *args: checkouts.append(args)  # noqa: E731
    event.listen(store.engine, "checkout", listener)
    try:
        with store.reading():
            for _ in range(3):
                store.get_entity("urn:aim:model:churn")
                store.related("urn:aim:model:churn", "versionOf", incoming=True)
        inside = len(checkouts)
        store.get_entity("urn:aim:model:churn")
        store.get_entity("urn:aim:model:churn")
    finally:
        event.remove(store.engine, "checkout", listener)
    assert (inside, len(checkouts)) == (1, 3)
