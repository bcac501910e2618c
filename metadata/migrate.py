"""Schema creation, upgrade and the check that the schema matches this code (Alembic).

The migrations ship inside the package (``aimops.metadata.migrations``) and record their
revision in ``aim_alembic_version``, so the store can share a database with Airflow or MLflow.
"""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from aimops.errors import SchemaError, SchemaMissingError, SchemaOutdatedError
from aimops.metadata.engine import store_option
from aimops.metadata.schema import HEAD_REVISION, VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _alembic_config(connection: Connection | None = None):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code ships."""
    from alembic.script import ScriptDirectory

    return frozenset(
        script.revision
        for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
    )


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when it has no aimops schema."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def upgrade_schema(connection: Connection, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` inside the connection's transaction."""
    from alembic import command

    command.upgrade(_alembic_config(connection), revision)


def check_schema(connection: Connection, store_label: str) -> None:
    """Raise a SchemaError that says what to do unless the schema is exactly at head."""
    current = current_revision(connection)
    if current == HEAD_REVISION:  # the usual case, decided without loading Alembic
        return
    if current is None:
        raise SchemaMissingError(
            f"the store at {store_label} has no aimops schema; "
            f"create it with: aimops init {store_option(store_label)}"
        )
    if current == head_revision():
        return
    if current in known_revisions():
        raise SchemaOutdatedError(
            f"the store at {store_label} has schema revision {current}, older than this "
            f"aimops ({head_revision()}); "
            f"upgrade it with: aimops db upgrade {store_option(store_label)}"
        )
    raise SchemaError(
        f"the store at {store_label} has schema revision {current}, which this aimops does not "
        "know: it was written by a newer aimops; upgrade aimops"
    )
