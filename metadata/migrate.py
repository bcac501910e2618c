"""Schema creation, upgrade, repair and the check that the schema matches this code (Alembic).

The migrations ship inside the package (``aimops.metadata.migrations``) and record their
revision in ``aim_alembic_version``, so the store can share a database with Airflow or MLflow.

Nothing is changed before aimops has read what the database holds (:func:`read_schema_state`):
an empty database gets the schema, an older schema is upgraded, a schema written by a newer
aimops is left alone, and a damaged version record (missing, empty, two rows, a revision that
is no aimops revision) is rewritten only when the tables provably are this aimops' schema;
otherwise the error says what is wrong and what to do.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from aimops.errors import SchemaError, SchemaMissingError, SchemaOutdatedError
from aimops.metadata.engine import store_option
from aimops.metadata.schema import AIM_TABLES, HEAD_REVISION, VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: aimops numbers its revisions 0001, 0002...: an unknown revision of that form beyond the
#: newest this code ships was written by a newer aimops; anything else is damage.
REVISION_FORM = re.compile(r"\d{4}")
#: The key of the PostgreSQL advisory lock that serialises schema changes (two ``aimops init``
#: at once would otherwise both create the tables).
SCHEMA_LOCK_KEY = 0x61696D6F7073  # "aimops"

SchemaKind = Literal["empty", "current", "outdated", "newer", "damaged"]


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


def is_newer_revision(revision: str) -> bool:
    """True for a revision a newer aimops wrote: unknown here, of aimops' form, past the head.

    Example:
        >>> is_newer_revision("9999"), is_newer_revision("banana")
        (True, False)
    """
    return (
        revision not in known_revisions()
        and REVISION_FORM.fullmatch(revision) is not None
        and int(revision) > int(head_revision())
    )


@dataclass(frozen=True)
class SchemaState:
    """What a database holds of aimops' schema, read without changing anything."""

    has_version_table: bool
    #: The rows of the version table, sorted (one, when all is well).
    revisions: tuple[str, ...]
    #: Which of aimops' tables exist.
    tables: frozenset[str]
    #: How many tables the database holds that are not aimops' (Airflow's, MLflow's...).
    other_tables: int

    @property
    def kind(self) -> SchemaKind:
        """empty (no aimops tables), current, outdated, newer (a newer aimops's) or damaged."""
        if any(is_newer_revision(revision) for revision in self.revisions):
            return "newer"  # first: a newer aimops may have renamed or dropped tables
        if not self.tables:
            return "empty"
        if len(self.revisions) != 1 or self.revisions[0] not in known_revisions():
            return "damaged"
        if self.revisions[0] != head_revision():
            return "outdated"
        return "current" if self.tables == AIM_TABLES else "damaged"

    def can_migrate(self, *, create: bool, repair: bool = False) -> bool:
        """True when :func:`migrate_schema` would bring this schema to the head (by writing):
        an older one; an empty one when asked to ``create``; a damaged one to ``repair``."""
        kind = self.kind
        return kind == "outdated" or (kind == "empty" and create) or (kind == "damaged" and repair)

    @property
    def damage(self) -> str:
        """What is wrong with a damaged schema, in a few words."""
        table = f"its version table {VERSION_TABLE}"
        if not self.has_version_table:
            return f"{table} is missing"
        if not self.revisions:
            return f"{table} is empty"
        if len(self.revisions) > 1:
            shown = ", ".join(_shown(revision) for revision in self.revisions[:3])
            shown += ", ..." if len(self.revisions) > 3 else ""
            return f"{table} holds {len(self.revisions)} revisions ({shown}) instead of one"
        if self.revisions[0] not in known_revisions():
            return f"{table} holds {_shown(self.revisions[0])}, which is no aimops revision"
        return f"its tables {', '.join(sorted(AIM_TABLES - self.tables))} are missing"


@dataclass(frozen=True)
class SchemaChange:
    """What :func:`migrate_schema` did: the revision the store is at now, and how."""

    revision: str
    action: Literal["none", "created", "upgraded", "repaired"]
    #: A few words for the user about what was done ("" when there is nothing to say).
    note: str = ""


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None when it has no single recorded revision."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def schema_is_current(connection: Connection) -> bool:
    """The quick check when a store is opened (one query, no Alembic): exactly the head
    revision is recorded. Anything else is looked at closely by :func:`read_schema_state`."""
    return current_revision(connection) == HEAD_REVISION


def read_schema_state(connection: Connection) -> SchemaState:
    """Read which of aimops' tables and version rows the database holds (no writes)."""
    names = set(inspect(connection).get_table_names())
    has_version_table = VERSION_TABLE in names
    revisions: tuple[str, ...] = ()
    if has_version_table:
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        revisions = tuple(sorted(str(row) for row in rows))
    return SchemaState(
        has_version_table=has_version_table,
        revisions=revisions,
        tables=frozenset(names & AIM_TABLES),
        other_tables=len(names - AIM_TABLES - {VERSION_TABLE}),
    )


def schema_problem(state: SchemaState, store_label: str) -> SchemaError | None:
    """The error that says what is wrong with the schema and what to do; None when current."""
    option = store_option(store_label)
    kind = state.kind
    if kind == "current":
        return None
    if kind == "empty":
        return SchemaMissingError(
            f"the store at {store_label} has no aimops schema; create it with: aimops init {option}"
        )
    if kind == "outdated":
        return SchemaOutdatedError(
            f"the store at {store_label} has schema revision {state.revisions[0]}, older than "
            f"this aimops ({head_revision()}); upgrade it with: aimops db upgrade {option}"
        )
    if kind == "newer":
        newest = max(revision for revision in state.revisions if is_newer_revision(revision))
        return SchemaError(
            f"the AIM store at {store_label} was written by a newer aimops (schema revision "
            f"{newest}; this aimops knows up to {head_revision()}): upgrade aimops to use it"
        )
    return SchemaError(
        f"the AIM store at {store_label} is damaged: {state.damage}; "
        f"aimops init {option} repairs it when its tables match this aimops"
    )


def migrate_schema(
    connection: Connection, store_label: str, *, create: bool, repair: bool = False
) -> SchemaChange:
    """Bring the schema to this aimops' head inside the connection's (write) transaction.

    Upgrades an older schema; with ``create``, creates it in a database without one (beside
    any other tables); with ``repair``, rewrites a damaged version record when the tables
    match the head schema exactly. Anything else raises the error :func:`schema_problem`
    gives, having changed nothing.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    state = read_schema_state(connection)
    if state.kind == "current":
        return SchemaChange(head_revision(), "none")
    if not state.can_migrate(create=create, repair=repair):
        raise schema_problem(state, store_label) or AssertionError(state.kind)
    if state.kind == "empty":
        return _create_schema(connection, state)
    if state.kind == "damaged":
        return _repair_version_record(connection, state, store_label)
    upgrade_schema(connection)
    return SchemaChange(head_revision(), "upgraded", f"upgraded from {state.revisions[0]}")


def upgrade_schema(connection: Connection, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` inside the connection's transaction."""
    from alembic import command

    command.upgrade(_alembic_config(connection), revision)


def _create_schema(connection: Connection, state: SchemaState) -> SchemaChange:
    if state.revisions:  # version rows without a single aimops table: stale, nothing to keep
        connection.execute(text(f"DELETE FROM {VERSION_TABLE}"))
    upgrade_schema(connection)
    others = state.other_tables
    beside = f"created beside {others} table{'' if others == 1 else 's'} already there"
    return SchemaChange(head_revision(), "created", beside if others else "")


def _repair_version_record(
    connection: Connection, state: SchemaState, store_label: str
) -> SchemaChange:
    from alembic import command

    missing = sorted(AIM_TABLES - state.tables)
    difference = f"missing {', '.join(missing)}" if missing else _difference_from_head(connection)
    if difference:
        raise SchemaError(
            f"the AIM store at {store_label} is damaged: {state.damage}, and its tables differ "
            f"from this aimops' schema {head_revision()} ({difference}), so aimops cannot tell "
            "which revision they are; restore the store from a backup"
        )
    command.stamp(_alembic_config(connection), "head", purge=True)
    return SchemaChange(
        head_revision(),
        "repaired",
        f"repaired the version record ({state.damage}): the tables match schema {head_revision()}",
    )


def _difference_from_head(connection: Connection) -> str:
    """The first way aimops' tables differ from the head schema, or '' when they match."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from aimops.metadata.schema import Base

    def only_aimops_tables(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in AIM_TABLES

    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "include_name": only_aimops_tables}
    )
    differences = compare_metadata(context, Base.metadata)
    if not differences:
        return ""
    first = differences[0][0] if isinstance(differences[0], list) else differences[0]
    operation, *details = first
    names = [
        detail if isinstance(detail, str) else detail.name
        for detail in details
        if isinstance(detail, str) or isinstance(getattr(detail, "name", None), str)
    ]
    more = f" and {len(differences) - 1} more" if len(differences) > 1 else ""
    return f"to match it needs: {operation.replace('_', ' ')} {' '.join(names)}{more}"


def _shown(revision: str) -> str:
    return repr(revision if len(revision) <= 40 else revision[:40] + "...")
