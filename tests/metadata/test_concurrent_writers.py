"""Several processes updating one aspect at once never lose an update.

The pattern a user relies on is optimistic concurrency: read an aspect and its version, write
the next value with ``expected_version=<that version>``, and on
:class:`~aimops.errors.ConcurrentUpdateError` read again and retry. These tests run that
pattern from separate OS processes (the ``spawn`` start method, so nothing is shared but the
database) against PostgreSQL, where the writers really race, and against SQLite, where
``BEGIN IMMEDIATE`` makes them take turns. Either way the final counter must equal the number
of increments, every increment must be its own version, and the versions must run 1..N.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest

from aimops.errors import ConcurrentUpdateError, StoreError, StoreUnavailableError
from aimops.metadata import AimStore, StoreWriter, make_urn

pytestmark = pytest.mark.integration

WORKERS = 4
INCREMENTS_PER_WORKER = 25
TOTAL_INCREMENTS = WORKERS * INCREMENTS_PER_WORKER
#: How long a whole run may take before the test gives up instead of hanging.
DEADLINE_SECONDS = 120.0
#: The widest random pause between reading the version and writing the next one.
MAX_PAUSE_SECONDS = 0.003
#: Fail fast instead of hanging when a PostgreSQL lock is never released.
PG_TIMEOUTS = "options=-c%20lock_timeout%3D10000%20-c%20statement_timeout%3D20000"


@dataclass(frozen=True)
class WorkerReport:
    """What one worker process did: its increments and how often it lost a race."""

    worker: int
    increments: int
    conflicts: int
    stale_reads: int
    insert_races: int
    error: str | None = None


def _increment_worker(
    url: str,
    urn: str,
    worker: int,
    increments: int,
    start: Barrier,
    results: multiprocessing.Queue[WorkerReport],
    seed: int,
) -> None:
    """Run in a child process: read-modify-write ``metrics.counter`` ``increments`` times."""
    rng = random.Random(seed)
    conflicts = stale_reads = insert_races = done = 0
    try:
        with AimStore.open(url, actor=f"worker-{worker}") as store:
            start.wait(timeout=60)
            deadline = time.monotonic() + DEADLINE_SECONDS
            while done < increments:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"worker {worker} did only {done} of {increments}")
                current = store.get_aspect(urn, "metrics")
                assert current is not None, "the counter vanished"
                time.sleep(rng.uniform(0, MAX_PAUSE_SECONDS))
                value = int(current.value["counter"]) + 1
                try:
                    store.put_aspect(
                        urn, "metrics", {"counter": value}, expected_version=current.version
                    )
                except ConcurrentUpdateError as exc:
                    conflicts += 1
                    if "another writer at the same time" in str(exc):
                        insert_races += 1
                    else:
                        stale_reads += 1
                    continue
                done += 1
        results.put(WorkerReport(worker, done, conflicts, stale_reads, insert_races))
    except BaseException:
        results.put(
            WorkerReport(worker, done, conflicts, stale_reads, insert_races, traceback.format_exc())
        )


def _run_workers(url: str, urn: str) -> list[WorkerReport]:
    """Start the worker processes together and collect their reports (failing on errors)."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    results: multiprocessing.Queue[WorkerReport] = context.Queue()
    processes = [
        context.Process(
            target=_increment_worker,
            args=(url, urn, worker, INCREMENTS_PER_WORKER, start, results, 1000 + worker),
            name=f"aimops-increment-{worker}",
        )
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    reports: list[WorkerReport] = []
    deadline = time.monotonic() + DEADLINE_SECONDS + 60
    try:
        while len(reports) < WORKERS:
            try:
                reports.append(results.get(timeout=0.2))
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    pytest.fail(f"worker died without a report: {dead}")
                if time.monotonic() > deadline:
                    pytest.fail(f"workers did not finish in time; reports so far: {reports}")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    errors = [report.error for report in reports if report.error]
    assert not errors, "a worker failed:\n" + "\n".join(errors)
    return reports


def _assert_no_lost_update(store: AimStore, urn: str, reports: list[WorkerReport]) -> None:
    """The counter, the history and the version numbers all account for every increment."""
    assert sum(report.increments for report in reports) == TOTAL_INCREMENTS
    latest = store.get_aspect(urn, "metrics")
    assert latest is not None
    assert latest.value == {"counter": TOTAL_INCREMENTS}, "an increment was lost"
    assert latest.version == TOTAL_INCREMENTS + 1
    history = store.history(urn, "metrics")
    assert len(history) == TOTAL_INCREMENTS + 1, "one version per increment plus the first"
    assert sorted(item.version for item in history) == list(range(1, TOTAL_INCREMENTS + 2))
    assert sorted(int(item.value["counter"]) for item in history) == list(
        range(TOTAL_INCREMENTS + 1)
    ), "every counter value from 0 to N appears exactly once"
    by_version = {item.version: int(item.value["counter"]) for item in history}
    assert all(counter == version - 1 for version, counter in by_version.items())
    assert {item.actor for item in history} <= {"tester"} | {f"worker-{n}" for n in range(WORKERS)}


def _counter_urn() -> str:
    return str(make_urn("evaluation", "concurrency", uuid.uuid4().hex))


def _seed_counter(store: AimStore, urn: str) -> None:
    assert store.put_aspect(urn, "metrics", {"counter": 0}, expected_version=0) == 1


@pytest.mark.postgres
def test_racing_writers_on_postgres_lose_no_update(
    postgres_url: str,
    pytestconfig: pytest.Config,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    """Four processes incrementing one counter on PostgreSQL end at exactly 100, versions 1..101.

    The writers genuinely collide (some get ConcurrentUpdateError and retry); a lost update
    would show as a counter below 100 or a missing version.
    """
    monkeypatch.syspath_prepend(str(pytestconfig.rootpath))  # spawned children import us
    url = f"{postgres_url}?{PG_TIMEOUTS}"
    urn = _counter_urn()
    with AimStore.open(url, create=True, actor="tester") as store:
        _seed_counter(store, urn)
        reports = _run_workers(url, urn)
        _assert_no_lost_update(store, urn, reports)
    conflicts = sum(report.conflicts for report in reports)
    assert conflicts > 0, f"the writers never collided, so nothing was tested: {reports}"
    _record_conflicts(record_property, reports)


def _record_conflicts(
    record_property: Callable[[str, object], None], reports: list[WorkerReport]
) -> None:
    """Keep the conflict counts in the JUnit report (``--junitxml``) for anyone curious."""
    record_property("conflicts", sum(report.conflicts for report in reports))
    record_property("stale_reads", sum(report.stale_reads for report in reports))
    record_property("insert_races", sum(report.insert_races for report in reports))


def test_serialized_writers_on_sqlite_lose_no_update(
    sqlite_url: str,
    pytestconfig: pytest.Config,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    """Four processes incrementing one counter in one SQLite file end at exactly 100.

    SQLite lets one writer in at a time; a reader that went stale while waiting gets
    ConcurrentUpdateError instead of overwriting the newer value.
    """
    monkeypatch.syspath_prepend(str(pytestconfig.rootpath))  # spawned children import us
    urn = _counter_urn()
    with AimStore.open(sqlite_url, actor="tester") as store:
        _seed_counter(store, urn)
        reports = _run_workers(sqlite_url, urn)
        _assert_no_lost_update(store, urn, reports)
    # Every conflict here is a stale read caught by the version check: SQLite never lets two
    # writers insert the same version at once.
    assert all(report.insert_races == 0 for report in reports), reports
    assert sum(report.stale_reads for report in reports) > 0, f"no read ever went stale: {reports}"
    _record_conflicts(record_property, reports)


def test_stale_expected_version_is_refused_and_writes_nothing(store: AimStore) -> None:
    """Writing with an outdated expected version fails with a message saying what to do.

    The message names the entity, the aspect and both versions; the aspect keeps its newer
    value and no version is added.
    """
    urn = _counter_urn()
    assert store.put_aspect(urn, "metrics", {"counter": 1}) == 1
    assert store.put_aspect(urn, "metrics", {"counter": 2}, expected_version=1) == 2
    before = _snapshot(store, urn)

    with pytest.raises(ConcurrentUpdateError) as raised:
        store.put_aspect(urn, "metrics", {"counter": 99}, expected_version=1)

    message = str(raised.value)
    assert urn in message
    assert "'metrics'" in message
    assert "expected version 1" in message
    assert "latest is 2" in message
    assert "retry" in message
    assert _snapshot(store, urn) == before

    with pytest.raises(ConcurrentUpdateError, match="expected version 0"):
        store.put_aspect(urn, "metrics", {"counter": 99}, expected_version=0)
    with pytest.raises(ConcurrentUpdateError, match="expected version 3"):
        store.put_aspect(urn, "metrics", {"counter": 99}, expected_version=3)
    assert _snapshot(store, urn) == before


def test_stale_expected_version_on_a_new_entity_creates_nothing(store: AimStore) -> None:
    """Expecting a version of an aspect that was never written fails without creating the entity."""
    urn = _counter_urn()
    with pytest.raises(ConcurrentUpdateError, match="latest is 0"):
        store.put_aspect(urn, "metrics", {"counter": 1}, expected_version=4)
    assert store.get_entity(urn) is None
    assert store.history(urn) == []
    assert store.count(where=[("metrics.counter", "=", 1)]) == 0


def test_stale_expected_version_rolls_back_the_whole_transaction(store: AimStore) -> None:
    """A conflict in the middle of a batch discards the batch's earlier writes too."""
    urn = _counter_urn()
    other = _counter_urn()
    store.put_aspect(urn, "metrics", {"counter": 5})
    with pytest.raises(ConcurrentUpdateError), store.transaction() as tx:
        tx.put_aspect(other, "metrics", {"counter": 1})
        tx.put_aspect(urn, "tags", {"state": "half-written"})
        tx.put_aspect(urn, "metrics", {"counter": 6}, expected_version=0)
    assert store.get_entity(other) is None
    assert store.get_aspect(urn, "tags") is None
    latest = store.get_aspect(urn, "metrics")
    assert latest is not None and (latest.version, latest.value) == (1, {"counter": 5})


def _snapshot(store: AimStore, urn: str) -> list[tuple[str, int, Any]]:
    return [(item.aspect, item.version, item.value) for item in store.history(urn)]


# -- PostgreSQL lock conflicts that are not version conflicts ---------------------------------


@pytest.mark.postgres
def test_writers_that_deadlock_are_retried_on_postgres(postgres_url: str) -> None:
    """Two batches updating the same two aspects in opposite orders both succeed.

    PostgreSQL aborts one of them with "deadlock detected"; like any other concurrent update
    that is a reason for ``store.write`` to retry the batch, not an error for the user.
    """
    first, second = _counter_urn(), _counter_urn()
    both_started = threading.Barrier(2)
    outcomes: dict[str, str] = {}
    with AimStore.open(f"{postgres_url}?{PG_TIMEOUTS}", create=True, actor="tester") as store:
        for urn in (first, second):
            _seed_counter(store, urn)

        def update(name: str, order: tuple[str, str]) -> None:
            tries = 0

            def batch(tx: StoreWriter) -> None:
                nonlocal tries
                tries += 1
                for position, urn in enumerate(order):
                    value, version = tx.read_aspect(urn, "metrics")
                    tx.put_aspect(
                        urn, "metrics", {"counter": value["counter"] + 1}, expected_version=version
                    )
                    if position == 0 and tries == 1:
                        both_started.wait(timeout=10)  # each now holds what the other needs

            try:
                store.write(batch)
                outcomes[name] = "ok"
            except Exception as exc:
                outcomes[name] = f"{type(exc).__name__}: {exc}"

        threads = [
            threading.Thread(target=update, args=("forward", (first, second))),
            threading.Thread(target=update, args=("backward", (second, first))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads), "a writer hung"
        assert outcomes == {"forward": "ok", "backward": "ok"}
        for urn in (first, second):
            latest = store.get_aspect(urn, "metrics")
            assert latest is not None and (latest.version, latest.value) == (3, {"counter": 2})


@pytest.mark.postgres
def test_lock_timeout_is_not_reported_as_an_unreachable_store(postgres_url: str) -> None:
    """A write that gives up waiting for another writer's lock says so, not "cannot reach"."""
    urn = _counter_urn()
    impatient_url = f"{postgres_url}?options=-c%20lock_timeout%3D200"
    with (
        AimStore.open(postgres_url, create=True, actor="tester") as store,
        AimStore.open(impatient_url, actor="impatient") as impatient,
    ):
        _seed_counter(store, urn)
        with store.transaction() as tx:
            tx.put_aspect(urn, "metrics", {"counter": 1}, expected_version=1)
            with pytest.raises(StoreError, match="lock timeout") as raised:
                impatient.put_aspect(urn, "metrics", {"counter": 1}, expected_version=1)
        assert not isinstance(raised.value, StoreUnavailableError), str(raised.value)
