"""A writer that dies in the middle of a batch leaves the store as if the batch never started.

A pipeline records a whole run (steps, attempts, data sets, lineage edges) in one
``store.transaction()``. If that process is killed with SIGKILL half way through, with rows
already inserted but not committed, the next user of the store must see none of them, must
still see everything committed before, and must be able to write straight away: no stale
lock, no hang, and (SQLite) a database file that passes ``PRAGMA integrity_check``.

The same promise holds for a batch that fails with an error: nothing of it is written.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest
from sqlalchemy import text

from aimops.errors import InvalidAspectError, MissingEntityError
from aimops.metadata import AimStore, StoreWriter, Urn, dataset_urn, run_urn, step_urn
from aimops.metadata.recording import (
    record_attempt,
    record_dataset,
    record_io,
    record_run,
    record_step,
)

pytestmark = pytest.mark.integration

TABLES = ("aim_entities", "aim_aspects", "aim_aspect_fields", "aim_edges", "aim_points")
BATCH_STEPS = 200
HALF_WAY = BATCH_STEPS // 2
#: How long the killed child may take to reach half way (it has to start Python first).
CHILD_START_DEADLINE = 60.0
#: The child rolls back (never commits) if nobody kills it within this time.
CHILD_SELF_ABORT = 60.0
#: The write after the crash must get its locks within this time.
NEXT_WRITE_DEADLINE = 10.0
#: Fail fast instead of hanging when a PostgreSQL lock is never released.
PG_TIMEOUTS = "options=-c%20lock_timeout%3D5000%20-c%20statement_timeout%3D20000"


@dataclass(frozen=True)
class Names:
    """The URNs one test writes; a random token keeps them apart from every other test."""

    token: str

    @property
    def pipeline(self) -> str:
        return f"crash-{self.token}"

    @property
    def committed_run(self) -> Urn:
        return run_urn("python", self.pipeline, "committed")

    @property
    def committed_step(self) -> Urn:
        return step_urn("python", self.pipeline, "committed", "extract")

    @property
    def committed_dataset(self) -> Urn:
        return dataset_urn(f"{self.pipeline}/raw")

    @property
    def killed_run(self) -> Urn:
        return run_urn("python", self.pipeline, "killed")

    def killed_step(self, index: int) -> Urn:
        return step_urn("python", self.pipeline, "killed", f"task-{index}")

    def killed_dataset(self, index: int) -> Urn:
        return dataset_urn(f"{self.pipeline}/killed/out-{index}")


# -- the process that gets killed ------------------------------------------------------------


def _doomed_batch(
    url: str,
    token: str,
    half_way: Event,
    rows_in_transaction: Synchronized[int],
    backend_pid: Synchronized[int],
) -> None:
    """Run in a child: write a whole run in one transaction, signal half way, never commit.

    After half way it keeps writing (steps, then time-series points) until it is killed;
    should nobody kill it, it raises, which rolls the batch back rather than committing it.
    """
    names = Names(token)
    store = AimStore.open(url, actor="doomed")
    deadline = time.monotonic() + CHILD_SELF_ABORT
    with store.transaction() as tx:
        connection = tx.connection
        if store.dialect == "sqlite":
            # A tiny page cache makes SQLite spill the uncommitted pages into the WAL file, so
            # the crash leaves uncommitted data on disk that recovery has to ignore.
            connection.exec_driver_sql("PRAGMA cache_size=16")
        else:
            backend_pid.value = int(
                connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            )
        # Touch data committed earlier: these changes must vanish with the batch.
        record_run(
            tx, orchestrator="python", pipeline=names.pipeline, run_id="committed", state="failed"
        )
        record_attempt(tx, names.committed_step, 2, state="running", hostname="doomed")
        run = record_run(
            tx,
            orchestrator="python",
            pipeline=names.pipeline,
            run_id="killed",
            state="running",
            conf={"batch": BATCH_STEPS},
        )
        for index in range(BATCH_STEPS):
            _write_step(tx, names, run, index)
            if index == HALF_WAY:
                rows_in_transaction.value = _entity_count(tx)
                half_way.set()
        moment = datetime.now(UTC)
        beat = 0
        while time.monotonic() < deadline:
            beat += 1
            tx.put_points(run, "heartbeat", [(moment + timedelta(milliseconds=beat), beat)])
        raise RuntimeError("nobody killed this writer; rolling its batch back")


def _write_step(tx: StoreWriter, names: Names, run: Urn, index: int) -> None:
    step = record_step(tx, run, f"task-{index}", operator="PythonOperator")
    record_attempt(tx, step, 1, state="running", hostname="doomed")
    record_attempt(tx, step, 1, state="success")
    output = record_dataset(tx, f"{names.pipeline}/killed/out-{index}", rows=index)
    tx.put_aspect(output, "tags", {"batch": "killed"})
    record_io(tx, step, consumed=[names.committed_dataset], produced=[output])


def _entity_count(tx: StoreWriter) -> int:
    return int(tx.connection.exec_driver_sql("SELECT count(*) FROM aim_entities").scalar_one())


# -- the parent ------------------------------------------------------------------------------


def _record_committed(store: AimStore, names: Names) -> None:
    """Data committed before the crash, one ordinary transaction per record."""
    run = record_run(
        store, orchestrator="python", pipeline=names.pipeline, run_id="committed", state="running"
    )
    step = record_step(store, run, "extract")
    record_attempt(store, step, 1, state="success")
    dataset = record_dataset(store, f"{names.pipeline}/raw", rows=10)
    record_io(store, step, produced=[dataset])
    store.put_aspect(run, "metrics", {"rows": 10})


def _row_counts(store: AimStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {
            table: int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
            for table in TABLES
        }


def _snapshot(store: AimStore, names: Names) -> dict[str, list[tuple[str, int, object]]]:
    committed = (names.committed_run, names.committed_step, names.committed_dataset)
    return {
        str(urn): [(item.aspect, item.version, item.value) for item in store.history(urn)]
        for urn in committed
    }


@dataclass
class Crash:
    """What the parent learned from the child before killing it."""

    rows_in_transaction: int
    backend_pid: int


def _kill_half_way(url: str, token: str) -> Crash:
    """Start the doomed writer, wait until it is half way through its batch, SIGKILL it."""
    context = multiprocessing.get_context("spawn")
    half_way = context.Event()
    rows: Synchronized[int] = context.Value("i", 0)
    pid: Synchronized[int] = context.Value("i", 0)
    child = context.Process(
        target=_doomed_batch, args=(url, token, half_way, rows, pid), name="aimops-doomed"
    )
    child.start()
    try:
        deadline = time.monotonic() + CHILD_START_DEADLINE
        while not half_way.wait(timeout=0.05):
            if not child.is_alive():
                pytest.fail(f"the writer ended before half way (exit code {child.exitcode})")
            if time.monotonic() > deadline:
                pytest.fail("the writer did not get half way in time")
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=10)
        assert child.exitcode == -signal.SIGKILL, "the writer finished instead of being killed"
    finally:
        if child.is_alive():
            child.kill()
            child.join(timeout=5)
    return Crash(rows.value, pid.value)


def _assert_batch_invisible(
    store: AimStore, names: Names, counts: dict[str, int], snapshot: dict[str, object]
) -> None:
    """Nothing the killed batch wrote is there; everything committed before is unchanged."""
    assert _row_counts(store) == counts, "rows of the killed batch survived"
    assert store.get_entity(names.killed_run) is None
    for index in (0, HALF_WAY, BATCH_STEPS - 1):
        assert store.get_entity(names.killed_step(index)) is None
        assert store.get_entity(names.killed_dataset(index)) is None
    assert store.get_points(names.killed_run, "heartbeat") == []
    assert _snapshot(store, names) == snapshot, "committed data changed"

    run_info = store.get_aspect(names.committed_run, "runInfo")
    assert run_info is not None and run_info.value["status"] == "running"
    attempts = store.get_aspect(names.committed_step, "stepAttempts")
    assert attempts is not None
    assert [a["try_number"] for a in attempts.value["attempts"]] == [1]
    assert [e.urn for e in store.related(names.committed_step, "produced")] == [
        str(names.committed_dataset)
    ]
    assert store.related(names.committed_dataset, "consumed", incoming=True) == []
    downstream = store.lineage(names.committed_dataset, direction="downstream")
    assert [node.urn for node in downstream.nodes] == [str(names.committed_dataset)]
    upstream = store.lineage(names.committed_dataset, direction="upstream")
    assert {node.urn for node in upstream.nodes} == {
        str(names.committed_dataset),
        str(names.committed_step),
    }


def _assert_accepts_the_batch_again(store: AimStore, names: Names) -> float:
    """Recording the killed run again works at once and starts from version 1; returns seconds."""
    started = time.monotonic()
    with store.transaction() as tx:
        run = record_run(
            tx, orchestrator="python", pipeline=names.pipeline, run_id="killed", state="success"
        )
        for index in range(3):
            _write_step(tx, names, run, index)
    elapsed = time.monotonic() - started
    assert elapsed < NEXT_WRITE_DEADLINE, f"the next write waited {elapsed:.1f}s for a lock"
    run_info = store.get_aspect(names.killed_run, "runInfo")
    assert run_info is not None and run_info.version == 1, "phantom versions of the killed run"
    attempts = store.history(names.killed_step(0), "stepAttempts")
    assert [item.version for item in attempts] == [1, 2]
    assert [e.urn for e in store.related(names.killed_step(2), "produced")] == [
        str(names.killed_dataset(2))
    ]
    return elapsed


def _prepare(url: str, names: Names) -> tuple[dict[str, int], dict[str, object]]:
    with AimStore.open(url, create=True, actor="tester") as store:
        _record_committed(store, names)
        return _row_counts(store), dict(_snapshot(store, names))


@pytest.fixture
def spawnable(pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let spawned children import this module however pytest was started."""
    monkeypatch.syspath_prepend(str(pytestconfig.rootpath))
    yield


@pytest.mark.usefixtures("spawnable")
def test_sqlite_writer_killed_mid_batch_leaves_no_trace(sqlite_url: str, tmp_path: Path) -> None:
    """SIGKILL half way through a 200-step run on SQLite: none of it is visible afterwards.

    The killed writer's pages had already spilled into the WAL file; the next opener ignores
    them, finds the database intact and can write at once (no stale write lock).
    """
    names = Names(uuid.uuid4().hex[:12])
    database = tmp_path / "aim.db"
    counts, snapshot = _prepare(sqlite_url, names)
    assert (
        not database.with_name("aim.db-wal").exists()
        or os.path.getsize(database.with_name("aim.db-wal")) == 0
    ), "the WAL should be checkpointed once the last connection closed"

    crash = _kill_half_way(sqlite_url, names.token)

    assert crash.rows_in_transaction > counts["aim_entities"] + HALF_WAY, (
        "the child had not inserted the first half of its batch"
    )
    wal = database.with_name("aim.db-wal")
    assert wal.exists() and wal.stat().st_size > 0, "uncommitted pages never reached the WAL"

    raw = sqlite3.connect(database, timeout=NEXT_WRITE_DEADLINE, isolation_level=None)
    try:
        started = time.monotonic()
        raw.execute("BEGIN IMMEDIATE")  # would wait for a stale write lock
        raw.execute("ROLLBACK")
        assert time.monotonic() - started < NEXT_WRITE_DEADLINE
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        raw.close()

    with AimStore.open(sqlite_url, actor="tester") as store:
        _assert_batch_invisible(store, names, counts, snapshot)
        _assert_accepts_the_batch_again(store, names)
    raw = sqlite3.connect(database)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        raw.close()


@pytest.mark.postgres
@pytest.mark.usefixtures("spawnable")
def test_postgres_writer_killed_mid_batch_leaves_no_trace(postgres_url: str) -> None:
    """SIGKILL half way through a 200-step run on PostgreSQL: none of it is visible afterwards.

    The server rolls the dead client's transaction back and releases its locks, so the next
    writer of the very same URNs goes through at once instead of hanging.
    """
    url = f"{postgres_url}?{PG_TIMEOUTS}"
    names = Names(uuid.uuid4().hex[:12])
    counts, snapshot = _prepare(url, names)

    crash = _kill_half_way(url, names.token)

    assert crash.backend_pid > 0
    assert crash.rows_in_transaction > counts["aim_entities"] + HALF_WAY, (
        "the child had not inserted the first half of its batch"
    )
    with AimStore.open(url, actor="tester") as store:
        _assert_batch_invisible(store, names, counts, snapshot)
        _assert_accepts_the_batch_again(store, names)
        _wait_until(
            lambda: not _backend_alive(store, crash.backend_pid),
            "the killed writer's server process is still there",
        )
        assert _locks_held_by(store, crash.backend_pid) == 0


def _backend_alive(store: AimStore, pid: int) -> bool:
    with store.engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one()
    return int(found) > 0


def _locks_held_by(store: AimStore, pid: int) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM pg_locks WHERE pid = :pid"), {"pid": pid}
            ).scalar_one()
        )


def _wait_until(condition: Callable[[], bool], message: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.02)


# -- a batch that fails with an error ------------------------------------------------------


def _missing_edge(tx: StoreWriter, step: Urn) -> None:
    tx.put_edge(step, "produced", dataset_urn("never-recorded"))


def _bad_metric(tx: StoreWriter, step: Urn) -> None:
    tx.put_aspect(step, "metrics", {"loss": math.nan})


def _user_error(tx: StoreWriter, step: Urn) -> None:
    raise RuntimeError("the pipeline code failed")


@pytest.mark.parametrize(
    ("fail", "error", "message"),
    [
        pytest.param(
            _missing_edge,
            MissingEntityError,
            "never-recorded is not in the store",
            id="edge-to-missing-entity",
        ),
        pytest.param(_bad_metric, InvalidAspectError, "not finite", id="invalid-aspect"),
        pytest.param(_user_error, RuntimeError, "pipeline code failed", id="user-code"),
    ],
)
def test_failing_write_discards_the_whole_batch(
    store: AimStore,
    fail: Callable[[StoreWriter, Urn], None],
    error: type[Exception],
    message: str,
) -> None:
    """When the last write of a batch fails, the aspects and edges written before it are gone.

    Afterwards the same batch without the failing write commits normally.
    """
    names = Names(uuid.uuid4().hex[:12])
    before = _row_counts(store)
    with pytest.raises(error, match=message), store.transaction() as tx:
        run = record_run(
            tx, orchestrator="python", pipeline=names.pipeline, run_id="killed", state="running"
        )
        record_dataset(tx, f"{names.pipeline}/raw")
        _write_step(tx, names, run, 0)
        tx.put_aspect(run, "metrics", {"rows": 3})
        tx.put_points(run, "loss", [(datetime.now(UTC), 0.5)])
        assert tx.read_aspect(run, "metrics") == ({"rows": 3}, 1)  # visible inside the batch
        fail(tx, names.killed_step(0))

    assert _row_counts(store) == before
    assert store.get_entity(names.killed_run) is None
    assert store.get_entity(names.killed_step(0)) is None
    assert store.get_entity(names.killed_dataset(0)) is None
    assert store.get_entity(names.committed_dataset) is None
    assert store.get_points(names.killed_run, "loss") == []

    with store.transaction() as tx:
        run = record_run(
            tx, orchestrator="python", pipeline=names.pipeline, run_id="killed", state="running"
        )
        record_dataset(tx, f"{names.pipeline}/raw")
        _write_step(tx, names, run, 0)
    run_info = store.get_aspect(names.killed_run, "runInfo")
    assert run_info is not None and run_info.version == 1
