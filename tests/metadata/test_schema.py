"""Opening stores: created on first use (SQLite), explicit init (PostgreSQL), clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from aimops.errors import (
    SchemaError,
    SchemaMissingError,
    SchemaOutdatedError,
    StoreUnavailableError,
)
from aimops.metadata import AimStore, migrate
from aimops.metadata.engine import normalize_url


def test_sqlite_store_is_created_in_a_fresh_home(tmp_path: Path) -> None:
    import aimops

    store = aimops.connect()
    assert store.label == f"sqlite:///{tmp_path / 'home' / 'aim.db'}"
    assert (tmp_path / "home" / "aim.db").is_file()
    store.put_entity("urn:aim:dataset:x")
    again = aimops.connect()
    assert again.get_entity("urn:aim:dataset:x") is not None


def test_store_url_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aimops

    monkeypatch.setenv("AIMOPS_STORE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    aimops.connect()
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "home" / "aim.db").exists()


def test_reading_a_missing_sqlite_store_says_how_to_create_it(sqlite_url: str) -> None:
    with pytest.raises(StoreUnavailableError, match="aimops init"):
        AimStore.open(sqlite_url, create=False)


def test_unwritable_location_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailableError, match="cannot create"):
        AimStore.open("sqlite:////proc/aimops-cannot-be-here/aim.db")


@pytest.mark.postgres
def test_postgres_without_schema_says_run_init(postgres_url: str) -> None:
    import psycopg

    name = postgres_url.rsplit("/", 1)[1] + "_empty"
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    empty = postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        with pytest.raises(SchemaMissingError, match="aimops init --store"):
            AimStore.open(empty)
        store = AimStore.open(empty, create=True)
        store.put_entity("urn:aim:dataset:x")
        store.close()
        assert AimStore.open(empty).get_entity("urn:aim:dataset:x") is not None
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_unreachable_postgres_is_a_one_line_error() -> None:
    with pytest.raises(StoreUnavailableError, match="cannot reach the AIM store at"):
        AimStore.open("postgresql://postgres:secret@127.0.0.1:1/none?connect_timeout=2")


def test_password_never_appears_in_errors() -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        AimStore.open("postgresql://postgres:s3cr3t@127.0.0.1:1/none?connect_timeout=2")
    assert "s3cr3t" not in str(caught.value)


def _stamp(url: str, revision: str) -> None:
    engine = create_engine(normalize_url(url))
    with engine.begin() as connection:
        connection.execute(text("UPDATE aim_alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_outdated_schema_says_how_to_upgrade(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    AimStore.open(sqlite_url).close()
    # Pretend this code ships a newer revision than the store has.
    monkeypatch.setattr(migrate, "HEAD_REVISION", "0099")
    monkeypatch.setattr(migrate, "head_revision", lambda: "0099")
    monkeypatch.setattr(migrate, "known_revisions", lambda: {"0001", "0099"})
    with pytest.raises(SchemaOutdatedError, match="aimops db upgrade"):
        AimStore.open(sqlite_url)


def test_schema_from_a_newer_aimops_is_refused(sqlite_url: str) -> None:
    AimStore.open(sqlite_url).close()
    _stamp(sqlite_url, "9999")
    with pytest.raises(SchemaError, match="newer aimops"):
        AimStore.open(sqlite_url)


def test_the_quick_schema_check_knows_the_newest_migration() -> None:
    from aimops.metadata.schema import HEAD_REVISION

    assert migrate.head_revision() == HEAD_REVISION


def test_upgrade_reports_the_head_revision(sqlite_url: str) -> None:
    store = AimStore.open(sqlite_url)
    assert store.upgrade() == migrate.head_revision()


def test_sqlite_store_runs_in_wal_mode_with_its_tuning(sqlite_url: str) -> None:
    """WAL (readers never block the writer), a 64 MiB cache and sparse checkpoints."""
    store = AimStore.open(sqlite_url)
    with store.engine.connect() as connection:
        settings = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "cache_size")
        }
        settings["wal_autocheckpoint"] = connection.exec_driver_sql(
            "PRAGMA wal_autocheckpoint"
        ).scalar()
    assert settings == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL: durable across a crash of the process
        "foreign_keys": 1,
        "cache_size": -65536,
        "wal_autocheckpoint": 20000,
    }
