"""What the store's writes promise, in the cases an earlier mutation run found no test for.

Each test asserts something a user would notice: a lost update, a version counted wrong, a
search that finds a stale value, a URN refused or accepted at the wrong length. (Found by
``make mutation``: scripts/mutation.py.)
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event

from aimops.errors import (
    ConcurrentUpdateError,
    InvalidInputError,
    SchemaError,
    StoreError,
    StoreUnavailableError,
    UnknownAspectError,
    UnknownRelationError,
)
from aimops.metadata import AimStore, StoreWriter
from aimops.metadata.migrate import SchemaChange


def _fresh_dataset() -> str:
    return f"urn:aim:dataset:race-{uuid.uuid4().hex[:8]}"


@pytest.mark.postgres
def test_a_version_another_writer_inserted_meanwhile_is_a_concurrent_update(
    postgres_store: AimStore, postgres_url: str
) -> None:
    """PostgreSQL writers really race: between our read and our insert another writer commits
    the same version. That must be a ConcurrentUpdateError (retryable), not a driver error, and
    the other writer's value must stay."""
    urn = _fresh_dataset()
    postgres_store.put_aspect(urn, "datasetInfo", {"name": "first"})
    with (
        AimStore.open(postgres_url, actor="other") as other,
        pytest.raises(ConcurrentUpdateError, match="version 2 was written by another writer"),
        postgres_store.transaction() as tx,
    ):
        value, version = tx.read_aspect(urn, "datasetInfo")
        assert (value["name"], version) == ("first", 1)
        other.put_aspect(urn, "datasetInfo", {"name": "theirs"})
        tx.put_aspect(urn, "datasetInfo", {"name": "mine"})
    assert [v.value["name"] for v in postgres_store.history(urn, "datasetInfo")] == [
        "first",
        "theirs",
    ]


@pytest.mark.postgres
@pytest.mark.parametrize("bulk", [False, True], ids=["put_aspect", "put_many"])
def test_write_retries_a_lost_race_and_loses_no_update(
    postgres_store: AimStore, postgres_url: str, bulk: bool
) -> None:
    """``store.write`` runs the work again after a lost race: the update lands on top of the
    other writer's, as version 3."""
    urn = _fresh_dataset()
    postgres_store.put_aspect(urn, "datasetInfo", {"name": "first"})
    seen: list[int] = []
    with AimStore.open(postgres_url, actor="other") as other:

        def work(tx: StoreWriter) -> int:
            value, version = tx.read_aspect(urn, "datasetInfo")
            if not seen:  # another writer gets in between the read and the write, once
                other.put_aspect(urn, "datasetInfo", {"name": "theirs"})
            seen.append(version)
            new = {"name": f"after {value['name']}"}
            if bulk:
                return tx.put_many([(urn, "datasetInfo", new)])[0]
            return tx.put_aspect(urn, "datasetInfo", new)

        assert postgres_store.write(work) == 3
    assert seen == [1, 2]
    latest = postgres_store.get_aspect(urn, "datasetInfo")
    assert latest is not None and latest.value["name"] == "after theirs"


@pytest.mark.postgres
def test_an_entity_another_writer_created_meanwhile_is_found_not_an_error(
    postgres_store: AimStore, postgres_url: str
) -> None:
    urn = _fresh_dataset()
    with AimStore.open(postgres_url, actor="other") as other, postgres_store.transaction() as tx:
        assert tx.entity_id(urn) is None
        other.put_entity(urn)  # committed between our lookup and our insert
        entity_id = tx.put_entity(urn)
        assert tx.entity_id(urn) == entity_id
        assert tx.put_aspect(urn, "datasetInfo", {"name": "x"}) == 1
    found = postgres_store.get_aspect(urn, "datasetInfo")
    assert found is not None and found.version == 1


def _urn_of_length(length: int) -> str:
    prefix = "urn:aim:dataset:"
    return prefix + "x" * (length - len(prefix))


def test_a_urn_may_have_up_to_1024_characters_on_every_write_path(store: AimStore) -> None:
    longest, too_long = _urn_of_length(1024), _urn_of_length(1025)
    assert store.put_entity(longest) == longest
    with store.transaction() as tx:
        assert tx.put_many([(longest, "datasetInfo", {"name": "x"})]) == [1]
    assert store.get_entity(longest) is not None
    with pytest.raises(InvalidInputError, match=r"at most 1024 characters .* has 1025"):
        store.put_entity(too_long)
    with (
        pytest.raises(InvalidInputError, match="at most 1024 characters"),
        store.transaction() as tx,
    ):
        tx.put_many([(too_long, "datasetInfo", {"name": "x"})])
    with (
        pytest.raises(InvalidInputError, match="at most 1024 characters"),
        store.transaction() as tx,
    ):
        tx.put_entities([too_long])
    assert store.count("dataset") == 1


def _count_selects(tx: StoreWriter) -> list[str]:
    """The SELECT statements ``tx`` runs from now on (a list that grows)."""
    selects: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(tx.connection, "before_cursor_execute", record)
    return selects


def datasets(count: int) -> list[str]:
    return [f"urn:aim:dataset:bulk-{n}" for n in range(count)]


def test_bulk_reads_and_writes_take_a_few_statements_however_many_entities(
    store: AimStore,
) -> None:
    """A run's end writes a hundred steps at once: lookups go together, not one by one."""
    urns = datasets(120)
    with store.transaction() as tx:
        selects = _count_selects(tx)
        assert tx.put_many([(u, "datasetInfo", {"name": u[-6:]}) for u in urns]) == [1] * 120
        assert len(selects) <= 2  # which exist, and the ids of those created
    with store.transaction() as tx:
        selects = _count_selects(tx)
        found = tx.read_aspects(urns, "datasetInfo")
        assert {value["name"] for value, _ in found.values()} == {u[-6:] for u in urns}
        assert len(selects) <= 2
    with store.transaction() as tx:
        selects = _count_selects(tx)
        moved = [(u, "datasetInfo", {"name": u[-6:], "rows": 2}) for u in urns]
        assert tx.put_many(moved) == [2] * 120
        assert len(selects) <= 2
    with store.transaction() as tx:  # each URN is looked up once per transaction
        selects = _count_selects(tx)
        missing, other = "urn:aim:dataset:missing", "urn:aim:dataset:other"
        assert tx.entity_id(missing) is None and tx.entity_id(missing) is None
        assert tx.entity_ids([other]) == {} and tx.entity_ids([other, missing]) == {}
        assert len(tx.entity_ids(urns[:2])) == 2 and len(tx.entity_ids(urns[:2])) == 2
        assert len(selects) == 3
    with store.transaction() as tx:  # a new entity has nothing to read back
        selects = _count_selects(tx)
        assert tx.put_aspect("urn:aim:dataset:new", "datasetInfo", {"name": "new"}) == 1
        assert len(selects) == 1


def test_bulk_writes_to_entities_without_the_aspect_start_at_version_one(
    store: AimStore,
) -> None:
    urns = datasets(3)
    with store.transaction() as tx:
        tx.put_entities(urns)
    with store.transaction() as tx:
        assert tx.put_many([(u, "datasetInfo", {"name": "d"}) for u in urns]) == [1, 1, 1]
        assert tx.read_aspects(urns, "datasetInfo")[urns[0]][1] == 1


def test_put_points_returns_how_many_points_were_given(store: AimStore) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [(start + timedelta(minutes=n), float(n)) for n in range(3)]
    assert store.put_points("urn:aim:model:churn", "latency_p95_ms", points) == 3
    assert store.put_points("urn:aim:model:churn", "latency_p95_ms", points[:2]) == 2
    assert len(store.get_points("urn:aim:model:churn", "latency_p95_ms")) == 3


def test_a_write_that_keeps_losing_races_is_tried_five_times(store: AimStore) -> None:
    tries: list[int] = []

    def always_stale(tx: StoreWriter) -> None:
        tries.append(1)
        raise ConcurrentUpdateError("someone else was faster")

    with pytest.raises(ConcurrentUpdateError, match="someone else was faster"):
        store.write(always_stale)
    assert len(tries) == 5


def test_put_entity_returns_the_canonical_urn(store: AimStore) -> None:
    assert store.put_entity("urn:aim:dataset:caf%C3%A9") == "urn:aim:dataset:caf%C3%A9"
    assert store.put_entity("urn:aim:run:airflow/d/a:b") == "urn:aim:run:airflow/d/a%3Ab"
    assert store.dialect in ("sqlite", "postgresql")
    assert store.read_only is False


def test_a_write_transaction_takes_the_sqlite_lock_when_it_begins(tmp_path: Path) -> None:
    """Two SQLite writers take turns from the start (BEGIN IMMEDIATE): the second one cannot
    begin a write that would fail later on, half done; a reader is not held up."""
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    with AimStore.open(url) as first, AimStore.open(url, timeout=0.2) as second:
        with first.transaction() as tx:
            tx.put_entity("urn:aim:dataset:a")
            with pytest.raises(StoreError), second.transaction():
                pass
            assert second.get_entity("urn:aim:dataset:b") is None
        assert second.put_entity("urn:aim:dataset:b") == "urn:aim:dataset:b"


def test_the_writer_gives_its_connection_for_raw_reads(store: AimStore) -> None:
    store.put_entity("urn:aim:dataset:a")
    with store.transaction() as tx:
        count = tx.connection.exec_driver_sql("SELECT count(*) FROM aim_entities").scalar_one()
    assert count == 1


UNREACHABLE = "postgresql://aim:s3cret@127.0.0.1:9/aim"
A, B = "urn:aim:dataset:a", "urn:aim:dataset:b"
MOMENT = datetime(2026, 1, 1, tzinfo=UTC)

BAD_CALLS: dict[str, tuple[Any, type[Exception], str]] = {
    "put_aspect: unknown aspect": (
        lambda s: s.put_aspect(A, "bogus", {}),
        UnknownAspectError,
        "bogus",
    ),
    "put_aspect: expected_version": (
        lambda s: s.put_aspect(A, "datasetInfo", {"name": "a"}, expected_version=-1),
        InvalidInputError,
        "expected_version",
    ),
    "put_edge: unknown relation": (
        lambda s: s.put_edge(A, "bogus", B),
        UnknownRelationError,
        "bogus",
    ),
    "put_points: metric": (
        lambda s: s.put_points(A, "", [(MOMENT, 1.0)]),
        InvalidInputError,
        "metric",
    ),
    "get_aspect: unknown aspect": (lambda s: s.get_aspect(A, "bogus"), UnknownAspectError, "bogus"),
    "get_aspect: version": (
        lambda s: s.get_aspect(A, "datasetInfo", version=-1),
        InvalidInputError,
        "version",
    ),
    "history: unknown aspect": (lambda s: s.history(A, "bogus"), UnknownAspectError, "bogus"),
    "latest_values: unknown aspect": (
        lambda s: s.latest_values([A], "bogus"),
        UnknownAspectError,
        "bogus",
    ),
    "latest_values: urns": (
        lambda s: s.latest_values(A, "datasetInfo"),
        InvalidInputError,
        "urns must be a collection",
    ),
    "search: limit": (lambda s: s.search(limit=-1), InvalidInputError, "limit"),
    "lineage: depth": (lambda s: s.lineage(A, depth=-1), InvalidInputError, "depth"),
    "lineage: edges": (lambda s: s.lineage(A, edges="yes"), InvalidInputError, "edges"),
    "get_points: metric": (lambda s: s.get_points(A, ""), InvalidInputError, "metric"),
    "get_points: since": (lambda s: s.get_points(A, "m", since="2026"), InvalidInputError, "since"),
    "get_points: until": (lambda s: s.get_points(A, "m", until="2026"), InvalidInputError, "until"),
    "related: unknown relation": (lambda s: s.related(A, "bogus"), UnknownRelationError, "bogus"),
    "related: incoming": (
        lambda s: s.related(A, "consumed", incoming="yes"),
        InvalidInputError,
        "incoming",
    ),
    "transaction: actor": (
        lambda s: s.transaction(actor="").__enter__(),
        InvalidInputError,
        "actor",
    ),
    "write: work": (lambda s: s.write("work"), InvalidInputError, "runs a function"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_a_bad_argument_is_named_before_the_store_is_reached(case: str) -> None:
    """A wrong argument is the caller's error, said at once: not a connection error after a
    wait for a store that is down, nor a write begun on one that is up."""
    call, error, words = BAD_CALLS[case]
    store = AimStore.open_unchecked(UNREACHABLE, timeout=1)
    with pytest.raises(error, match=words):
        call(store)


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"actor": ""}, "actor"),
        ({"create": "yes"}, "create"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_a_bad_argument_to_open_is_named_before_the_file_is_looked_at(
    tmp_path: Path, arguments: dict[str, Any], words: str
) -> None:
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    with pytest.raises(InvalidInputError, match=words):
        AimStore.open_unchecked(missing, **arguments)
    with pytest.raises(InvalidInputError, match=words):
        AimStore.open(missing, **arguments)


def test_opening_without_a_schema_check_still_needs_the_file(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="aimops init"):
        AimStore.open_unchecked(f"sqlite:///{tmp_path / 'missing.db'}")


def test_the_driver_gets_the_password_and_messages_do_not() -> None:
    store = AimStore.open_unchecked(UNREACHABLE)
    assert store.engine.url.password == "s3cret"
    assert store.label == "postgresql://aim:***@127.0.0.1:9/aim"


def test_a_store_made_from_an_engine_is_labelled_by_its_url(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'aim.db'}")
    try:
        assert AimStore(engine).label == f"sqlite:///{tmp_path / 'aim.db'}"
        assert AimStore(engine, label="mine").label == "mine"
        with pytest.raises(InvalidInputError, match="label"):
            AimStore(engine, label=3)  # type: ignore[arg-type]
        assert AimStore(engine).change_schema(create=True).note == ""
    finally:
        engine.dispose()


def test_a_store_that_fails_its_schema_check_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[AimStore] = []
    monkeypatch.setattr(AimStore, "close", lambda store: closed.append(store))

    def newer(store: AimStore, create: bool) -> None:
        raise SchemaError("made by a newer aimops")

    monkeypatch.setattr(AimStore, "_prepare", newer)
    with pytest.raises(SchemaError, match="newer"):
        AimStore.open(f"sqlite:///{tmp_path / 'aim.db'}")
    assert len(closed) == 1


def test_upgrade_creates_the_schema_of_a_store_opened_unchecked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    fresh = AimStore.open_unchecked(url, create=True)
    revision = fresh.upgrade()
    assert revision and fresh.change_schema(create=False) == SchemaChange(revision, "none", "")
    fresh.close()
    with AimStore.open(url, create=False) as store:
        assert store.put_entity(A) == A


@pytest.mark.parametrize(
    ("content", "note"), [(None, ""), (b"", "created in the empty file"), (b"x", "")]
)
def test_creating_a_schema_says_when_it_went_into_an_empty_file(
    tmp_path: Path, content: bytes | None, note: str
) -> None:
    path = tmp_path / "aim.db"
    if content is not None:
        path.write_bytes(content)
    with AimStore.open_unchecked(f"sqlite:///{path}", create=True) as store:
        change = store.change_schema(create=True)
    assert (change.action, change.note) == ("created", note)


def test_every_read_works_inside_an_open_transaction(store: AimStore) -> None:
    """Reads take no write lock: inside a transaction() they neither wait for it nor fail."""
    store.put_aspect(A, "datasetInfo", {"name": "a"})
    store.put_entity(B)
    store.put_edge(A, "consumed", B)
    with store.transaction() as tx:
        tx.put_entity("urn:aim:dataset:c")
        assert store.get_aspect(A, "datasetInfo") is not None
        assert set(store.get_aspects(A)) == {"datasetInfo"}
        assert len(store.history(A)) == 1
        assert list(store.latest_values([A], "datasetInfo")) == [A]
        assert store.count("dataset") == 2 and len(store.search("dataset")) == 2
        assert len(store.lineage(A).nodes) >= 1
        assert store.get_points(A, "m") == []
        assert [e.urn for e in store.related(A, "consumed")] == [B]


def test_reading_what_is_not_there(store: AimStore) -> None:
    assert store.related("urn:aim:dataset:missing", "consumed") == []
    assert store.latest_values([], "datasetInfo") == {}
    assert store.get_aspect(A, "datasetInfo", version=0) is None


def test_search_returns_100_entities_unless_told_otherwise(store: AimStore) -> None:
    with store.transaction() as tx:
        tx.put_entities([f"urn:aim:dataset:d{n}" for n in range(101)])
    assert len(store.search("dataset")) == 100
    assert len(store.search("dataset", limit=101)) == 101


def test_lineage_walks_five_steps_unless_told_otherwise(store: AimStore) -> None:
    chain = [f"urn:aim:dataset:hop{n}" for n in range(8)]
    with store.transaction() as tx:
        tx.put_entities(chain)
        tx.put_edges([(chain[n], "derivedFrom", chain[n + 1]) for n in range(7)])
    reached = store.lineage(chain[0], edges=False).nodes
    deeper = store.lineage(chain[0], depth=7, edges=False).nodes
    assert len(deeper) > len(reached)
    assert len(store.lineage(chain[0], depth=5, edges=False).nodes) == len(reached)


def test_the_writer_names_a_missing_actor_or_a_name_that_is_not_text(store: AimStore) -> None:
    with store.transaction() as tx:
        with pytest.raises(InvalidInputError, match="the actor must not be empty"):
            StoreWriter(tx.connection, "")
        tx.put_entity(A)
        tx.put_entity(B)
        with pytest.raises(InvalidInputError, match="an aspect name must be text"):
            tx.put_aspect(A, 5, {})  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="a relation must be text"):
            tx.put_edge(A, 5, B)  # type: ignore[arg-type]
