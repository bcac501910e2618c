"""Stores in hostile but realistic states: read-only, empty, damaged, newer, foreign, no database.

Reads never create or change a store: a read-only SQLite store reads fine and refuses writes by
name; a missing or empty file says to run ``aimops init``. ``aimops init`` repairs what it can
prove (tables that match the head schema get their version record rewritten) and explains the
rest in one line; a store written by a newer aimops is left alone. The CLI is driven in-process
through ``aimops.cli.main`` (click's runner would hide how ``main`` prints errors): exit code,
one line, no traceback, nothing written.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import create_engine, inspect, text

from aimops.errors import (
    ConfigurationError,
    SchemaError,
    StoreUnavailableError,
)
from aimops.metadata import AimStore
from aimops.metadata.engine import normalize_url
from aimops.metadata.migrate import head_revision
from aimops.metadata.recording import record_dataset, record_io, record_run, record_step
from aimops.metadata.schema import AIM_TABLES, HEAD_REVISION, VERSION_TABLE

NOBODY = 65534
DATASET = "urn:aim:dataset:customers"


class Said(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run ``aimops ARGS`` in-process; returns its exit code and what it printed."""
    from aimops.cli import main

    def run(*args: str) -> Said:
        code = main(list(args))
        out, err = capsys.readouterr()
        return Said(code, out, err)

    return run


def one_line_error(said: Said, *phrases: str) -> str:
    """The error line, after checking it is one line of aimops' own with the phrases in it."""
    assert said.code == 1, said
    assert "Traceback" not in said.out + said.err, said.err
    lines = said.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aimops: error: "), said.err
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])
    return lines[0]


def one_line_success(said: Said, *phrases: str) -> str:
    assert said.code == 0, said
    assert "Traceback" not in said.out + said.err and not said.err, said.err
    lines = said.out.strip().splitlines()
    assert len(lines) == 1, said.out
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])
    return lines[0]


def seed(url: str) -> str:
    """Create a store at ``url`` with a run, a step and the data set it read; the run's URN."""
    with AimStore.open(url, create=True, actor="tester") as store:
        run = record_run(store, orchestrator="airflow", pipeline="etl", run_id="r1")
        step = record_step(store, run, "load", native_state="success")
        record_io(store, step, consumed=[record_dataset(store, "customers")])
    return str(run)


def execute(url: str, *statements: str) -> None:
    """Run SQL on the database behind ``url`` with a plain engine (no aimops in the way)."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()  # SQLite: the last connection checkpoints the WAL into the file


def snapshot(url: str) -> dict[str, Any]:
    """What the database holds: each table's rows, and its indexes (to prove nothing changed)."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            return {
                table: (
                    sorted(
                        map(tuple, connection.execute(text(f"SELECT * FROM {table}"))), key=repr
                    ),
                    sorted(index["name"] or "" for index in inspector.get_indexes(table)),
                )
                for table in sorted(inspector.get_table_names())
            }
    finally:
        engine.dispose()


def file_state(path: Path) -> tuple[bytes, int] | None:
    """A file's bytes and modification time (None when there is no file)."""
    return (path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None


def version_rows(url: str) -> list[str]:
    rows = snapshot(url).get(VERSION_TABLE, ([], []))[0]
    return [row[0] for row in rows]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a database of the test's own on each backend (nothing created in it yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aim.db'}"
    database: str = request.getfixturevalue("postgres_database")
    return database


# -- 1. a read-only SQLite store ------------------------------------------------------------


@contextmanager
def read_only(folder: Path, *, files: bool = True, folder_too: bool = True) -> Iterator[None]:
    """Take write permission away from ``folder`` (and its files); under root, which ignores
    permissions, also act as an unprivileged user meanwhile. Restored afterwards."""
    modes = {target: target.stat().st_mode for target in [folder, *folder.iterdir()]}
    for target, mode in modes.items():
        if target == folder:  # a folder left writable is so for anyone (under root: nobody)
            target.chmod(mode & ~0o222 if folder_too else 0o777)
        elif files:
            target.chmod(mode & ~0o222)
    as_root = os.geteuid() == 0
    if as_root:  # import now what the commands import: root's Python may be closed to nobody
        for module in ("aimops.cli", "aimops.metadata.views", "alembic.script"):
            importlib.import_module(module)
        head_revision()
    try:
        if as_root:
            try:
                os.setegid(NOBODY)
                os.seteuid(NOBODY)
            except OSError as exc:  # pragma: no cover - root without CAP_SETUID
                pytest.skip(f"running as root and cannot act as an unprivileged user: {exc}")
        yield
    finally:
        if as_root:
            os.seteuid(0)
            os.setegid(0)
        for target, mode in modes.items():
            target.chmod(mode)


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's own are root's alone under root),
    with a space and a percent sign in its name, which SQLite's URI form must escape."""
    base = Path(tempfile.mkdtemp(prefix="aimops-ro-"))
    base.chmod(0o755)
    folder = base / "store 100% ro"
    folder.mkdir(mode=0o755)
    try:
        yield folder
    finally:
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base)


def readable_everywhere(folder: Path) -> None:
    for path in folder.iterdir():
        path.chmod(0o644)


@pytest.mark.parametrize(
    ("files", "folder_too"),
    [(True, True), (False, True), (True, False)],
    ids=["file-and-folder", "folder-only", "file-only"],
)
def test_a_read_only_store_reads_and_refuses_writes_by_name(
    shared_folder: Path, files: bool, folder_too: bool
) -> None:
    path = shared_folder / "aim.db"
    url = f"sqlite:///{path}"
    run = seed(url)
    readable_everywhere(shared_folder)
    before = file_state(path)
    listing = sorted(os.listdir(shared_folder))
    with read_only(shared_folder, files=files, folder_too=folder_too):
        for create in (None, False):  # the default opening, and opening for reading
            with AimStore.open(url, create=create) as store:
                assert store.read_only
                assert store.get_aspect(run, "runInfo") is not None
                assert [entity.urn for entity in store.search("dataset")] == [DATASET]
                graph = store.lineage(DATASET, direction="downstream")
                assert {node.type for node in graph.nodes} == {"dataset", "step"}
                with pytest.raises(ConfigurationError, match="is read-only") as refused:
                    store.put_aspect(run, "tags", {"team": "ml"})
                assert str(path) in str(refused.value)
                assert len(str(refused.value).splitlines()) == 1
    assert file_state(path) == before
    if folder_too:  # SQLite could create nothing beside the file
        assert sorted(os.listdir(shared_folder)) == listing


def test_the_cli_reads_a_read_only_store_and_init_leaves_it_alone(
    shared_folder: Path, cli: Any
) -> None:
    path = shared_folder / "aim.db"
    url = f"sqlite:///{path}"
    run = seed(url)
    readable_everywhere(shared_folder)
    before = file_state(path)
    with read_only(shared_folder):
        listed = cli("runs", "list", "--store", url)
        assert listed.code == 0 and "etl" in listed.out, listed
        shown = cli("lineage", DATASET, "--downstream", "--store", url)
        assert shown.code == 0 and "load" in shown.out, shown
        history = cli("history", run, "--store", url)
        assert history.code == 0 and "runInfo" in history.out, history
        # the schema is current: init and db upgrade have nothing to write, and say so
        one_line_success(cli("init", "--store", url), "AIM store ready", "read-only")
        one_line_success(cli("db", "upgrade", "--store", url), f"schema {HEAD_REVISION}")
    assert file_state(path) == before
    assert sorted(os.listdir(shared_folder)) == ["aim.db"]


def test_init_of_a_read_only_store_that_needs_a_change_says_it_is_read_only(
    shared_folder: Path, cli: Any
) -> None:
    path = shared_folder / "aim.db"
    url = f"sqlite:///{path}"
    seed(url)
    execute(url, f"DELETE FROM {VERSION_TABLE}")
    readable_everywhere(shared_folder)
    before = file_state(path)
    with read_only(shared_folder):
        one_line_error(cli("init", "--store", url), "is read-only", str(shared_folder))
    assert file_state(path) == before


def test_a_read_only_folder_with_a_write_ahead_log_is_read_with_its_log(
    shared_folder: Path,
) -> None:
    """A writer that died (or a snapshot taken while one was open) leaves writes in the -wal
    file only; reading the file alone (immutable) would miss them, so SQLite reads both."""
    path = shared_folder / "aim.db"
    url = f"sqlite:///{path}"
    seed(url)
    import sqlite3

    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE aim_entities SET type = type")  # open the log
    with AimStore.open(url) as store:
        store.put_entity("urn:aim:dataset:only-in-the-log")
    kept = {suffix: (path.parent / f"aim.db{suffix}").read_bytes() for suffix in ("-wal", "-shm")}
    main_file = path.read_bytes()
    writer.close()  # checkpoints and removes the log: put the crashed state back
    path.write_bytes(main_file)
    for suffix, content in kept.items():
        (path.parent / f"aim.db{suffix}").write_bytes(content)
    readable_everywhere(shared_folder)
    with read_only(shared_folder), AimStore.open(url, create=False) as store:
        assert store.get_entity("urn:aim:dataset:only-in-the-log") is not None


def test_a_store_cannot_be_created_in_a_read_only_folder(shared_folder: Path, cli: Any) -> None:
    url = f"sqlite:///{shared_folder / 'aim.db'}"
    with read_only(shared_folder):
        with pytest.raises(ConfigurationError, match="read-only"):
            AimStore.open(url)
        one_line_error(cli("init", "--store", url), "cannot create", "read-only")
    assert os.listdir(shared_folder) == []


# -- 2. a missing or empty SQLite file --------------------------------------------------------

READS = [["runs", "list"], ["lineage", DATASET], ["models", "list"], ["history", DATASET]]


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_reading_an_empty_file_says_run_init_and_leaves_it_empty(
    tmp_path: Path, cli: Any, command: list[str]
) -> None:
    path = tmp_path / "aim.db"
    path.touch()
    before = file_state(path)
    url = f"sqlite:///{path}"
    one_line_error(cli(*command, "--store", url), "empty (0 bytes)", "aimops init --store")
    one_line_error(cli("db", "upgrade", "--store", url), "empty (0 bytes)", "aimops init")
    with pytest.raises(StoreUnavailableError, match="empty"):
        AimStore.open(url, create=False)
    assert file_state(path) == before
    assert os.listdir(tmp_path) == ["aim.db"]


@pytest.mark.parametrize("command", [*READS, ["db", "upgrade"]], ids=" ".join)
def test_reading_a_missing_file_creates_nothing(
    tmp_path: Path, cli: Any, command: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'aim.db'}"
    one_line_error(cli(*command, "--store", url), "no AIM store at", "aimops init --store")
    assert os.listdir(tmp_path) == []


def test_init_makes_an_empty_file_a_new_store_and_says_so(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "aim.db"
    path.touch()
    url = f"sqlite:///{path}"
    one_line_success(cli("init", "--store", url), "AIM store ready", "empty file")
    assert cli("runs", "list", "--store", url).out.strip() == "no runs recorded"
    with AimStore.open(url, create=False) as store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_reading_a_store_changes_no_byte_of_it(tmp_path: Path, cli: Any) -> None:
    path = tmp_path / "aim.db"
    url = f"sqlite:///{path}"
    run = seed(url)
    before = file_state(path)
    for command in [*READS, ["runs", "show", run]]:
        assert cli(*command, "--store", url).code == 0, command
    with AimStore.open(url, create=False) as store:
        assert store.get_aspect(run, "runInfo") is not None
    assert file_state(path) == before


# -- 3. a damaged version record ------------------------------------------------------------

DAMAGES = {
    "row deleted": f"DELETE FROM {VERSION_TABLE}",
    "table dropped": f"DROP TABLE {VERSION_TABLE}",
    "garbage revision": f"UPDATE {VERSION_TABLE} SET version_num = 'banana'",
    "two rows": f"INSERT INTO {VERSION_TABLE} (version_num) VALUES ('0000')",
}
SAYS = {
    "row deleted": "is empty",
    "table dropped": "is missing",
    "garbage revision": "'banana', which is no aimops revision",
    "two rows": "holds 2 revisions",
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_reading_a_store_with_a_damaged_version_record_is_a_clear_error(
    url: str, damage: str, cli: Any
) -> None:
    seed(url)
    execute(url, DAMAGES[damage])
    before = snapshot(url)
    with pytest.raises(SchemaError, match="damaged") as caught:
        AimStore.open(url, create=False)
    assert SAYS[damage] in str(caught.value) and "aimops init" in str(caught.value)
    with pytest.raises(SchemaError, match="damaged"):
        AimStore.open(url, create=True)  # creating does not mean overwriting
    one_line_error(cli("runs", "list", "--store", url), "damaged", SAYS[damage])
    one_line_error(cli("db", "upgrade", "--store", url), "damaged", "aimops init")
    assert snapshot(url) == before


@pytest.mark.parametrize("damage", DAMAGES)
def test_init_repairs_a_damaged_version_record_when_the_tables_match(
    url: str, damage: str, cli: Any
) -> None:
    run = seed(url)
    execute(url, DAMAGES[damage])
    line = one_line_success(cli("init", "--store", url), "AIM store ready", "repaired")
    assert SAYS[damage] in line
    assert version_rows(url) == [HEAD_REVISION]
    with AimStore.open(url, create=False) as store:
        assert store.get_aspect(run, "runInfo") is not None
    one_line_success(cli("init", "--store", url), "AIM store ready")  # nothing left to do


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (["DROP INDEX ix_aim_edges_dst"], "needs: add index ix_aim_edges_dst"),
        (["DROP TABLE aim_points"], "missing aim_points"),
    ],
    ids=["an index dropped", "a table dropped"],
)
@pytest.mark.parametrize("damage", ["row deleted", "table dropped"])
def test_init_explains_a_damaged_store_whose_tables_do_not_match(
    url: str, damage: str, changes: list[str], says: str, cli: Any
) -> None:
    seed(url)
    execute(url, *changes, DAMAGES[damage])
    before = snapshot(url)
    one_line_error(cli("init", "--store", url), "damaged", says, "restore the store from a backup")
    assert snapshot(url) == before


def test_a_version_record_without_any_table_is_a_store_init_creates_again(
    url: str, cli: Any
) -> None:
    """Opening trusts the version record (one query keeps it cheap), so a read fails on the
    first missing table, in one line; init sees no table to keep and creates them."""
    seed(url)
    execute(url, *(f"DROP TABLE {table}" for table in DROP_ORDER))
    one_line_error(cli("runs", "list", "--store", url), "aim_entities")
    one_line_success(cli("init", "--store", url), "AIM store ready")
    assert version_rows(url) == [HEAD_REVISION]
    assert cli("runs", "list", "--store", url).out.strip() == "no runs recorded"


DROP_ORDER = ["aim_points", "aim_edges", "aim_aspect_fields", "aim_aspects", "aim_entities"]


def test_drop_order_covers_every_table() -> None:
    assert set(DROP_ORDER) == AIM_TABLES


# -- 4. a store written by a newer aimops ------------------------------------------------------


def test_every_shipped_revision_has_the_form_a_newer_one_is_told_by() -> None:
    from aimops.metadata.migrate import REVISION_FORM, known_revisions

    assert all(REVISION_FORM.fullmatch(revision) for revision in known_revisions())


@pytest.mark.parametrize("tables", ["kept", "renamed"])
def test_a_store_from_a_newer_aimops_is_left_alone(url: str, tables: str, cli: Any) -> None:
    seed(url)
    changes = [f"UPDATE {VERSION_TABLE} SET version_num = '9999'"]
    if tables == "renamed":  # a newer aimops may have renamed them: init must not create any
        changes.append("ALTER TABLE aim_points RENAME TO aim_points_v2")
    execute(url, *changes)
    before = snapshot(url)
    newer = "was written by a newer aimops (schema revision 9999"
    for create in (None, False, True):
        with pytest.raises(SchemaError, match="newer aimops"):
            AimStore.open(url, create=create)
    for command in (["db", "upgrade"], ["init"], ["runs", "list"], ["lineage", DATASET]):
        one_line_error(cli(*command, "--store", url), newer, "upgrade aimops")
    assert snapshot(url) == before


# -- 5. a foreign database, a file that is no database ------------------------------------------


def test_a_foreign_database_is_read_as_no_schema_and_init_adds_the_store_beside(
    url: str, cli: Any
) -> None:
    execute(
        url,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(20))",
        "INSERT INTO users VALUES (1, 'ada')",
    )
    before = snapshot(url)
    sqlite_path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None
    bytes_before = file_state(sqlite_path) if sqlite_path else None
    one_line_error(cli("runs", "list", "--store", url), "no aimops schema", "aimops init --store")
    one_line_error(cli("db", "upgrade", "--store", url), "no aimops schema", "aimops init")
    assert snapshot(url) == before
    if sqlite_path is not None:  # not even switched to WAL mode by a read
        assert file_state(sqlite_path) == bytes_before
    one_line_success(
        cli("init", "--store", url), "AIM store ready", "created beside 1 table already there"
    )
    assert snapshot(url)["users"] == before["users"]
    assert cli("runs", "list", "--store", url).out.strip() == "no runs recorded"


@pytest.mark.parametrize(
    "content", [b"name,score\nada,1\n", b"\x00" * 4096, b"SQLite format 3\x00" + b"\xff" * 84]
)
@pytest.mark.parametrize("command", [["init"], ["db", "upgrade"], ["runs", "list"]], ids=" ".join)
def test_a_file_that_is_no_database_is_left_as_it_is(
    tmp_path: Path, content: bytes, command: list[str], cli: Any
) -> None:
    path = tmp_path / "aim.db"
    path.write_bytes(content)
    before = file_state(path)
    one_line_error(cli(*command, "--store", f"sqlite:///{path}"), f"{path} is not an AIM store")
    assert file_state(path) == before
    assert os.listdir(tmp_path) == ["aim.db"]


# -- concurrency ------------------------------------------------------------------------------


def test_two_inits_at_once_both_succeed(url: str) -> None:
    """Schema changes are serialised (SQLite's write lock, a PostgreSQL advisory lock)."""
    outcomes: list[object] = []

    def init() -> None:
        try:
            store = AimStore.open_unchecked(url, create=True)
            outcomes.append(store.change_schema(create=True, repair=True).action)
            store.close()
        except Exception as exc:  # reported below
            outcomes.append(exc)

    threads = [threading.Thread(target=init) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(map(str, outcomes)) == ["created", "none"]
    assert version_rows(url) == [HEAD_REVISION]
