"""The AIM store: entities, versioned aspects, edges and time series behind one object.

Open it with :meth:`AimStore.open` (or ``aimops.connect``). A SQLite store is created and
migrated on first use; a PostgreSQL store must be created with ``aimops init``. Reads return
None for what is missing; writes validate first and are atomic.

Example:
    >>> store = AimStore.open("sqlite://", actor="doc")
    >>> store.put_aspect("urn:aim:model:churn", "modelInfo", {"name": "churn"})
    1
    >>> store.get_aspect("urn:aim:model:churn", "modelInfo").value["name"]
    'churn'
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from aimops.errors import ConcurrentUpdateError, InvalidInputError, StoreUnavailableError
from aimops.metadata import schema
from aimops.metadata.aspects import aspect_spec
from aimops.metadata.engine import (
    open_engine,
    parse_url,
    redact,
    sqlite_file,
    store_option,
    translate_errors,
)
from aimops.metadata.lineage import Direction, LineageGraph, walk_lineage
from aimops.metadata.migrate import check_schema, current_revision, upgrade_schema
from aimops.metadata.search import Condition, neighbours_query, search_query
from aimops.metadata.store_values import AspectVersion, Entity, Point
from aimops.metadata.timeseries import read_points
from aimops.metadata.urns import Urn
from aimops.metadata.writer import ENTITY_ID_BY_URN, StoreWriter, UrnLike
from aimops.settings import default_actor, default_store_url

T = TypeVar("T")
WRITE_RETRIES = 5


#: The largest limit or offset a query takes (a database's 64-bit integer).
MAX_COUNT = 2**63 - 1


class AimStore:
    """A connection to one AIM store (SQLite file or PostgreSQL database)."""

    def __init__(
        self, engine: Engine, *, actor: str | None = None, label: str | None = None
    ) -> None:
        self._engine = engine
        self._writing = threading.local()
        self.label = label or redact(engine.url)
        self.actor = actor or default_actor()

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        actor: str | None = None,
        create: bool | None = None,
        timeout: float | None = None,
    ) -> AimStore:
        """Open the store at ``url`` (default: ``AIMOPS_STORE_URL`` or ``$AIMOPS_HOME/aim.db``).

        ``create`` migrates an empty database; by default only SQLite is created on first use.
        ``timeout`` (seconds) bounds connecting and every wait for a lock or a statement.
        """
        given = url or default_store_url()
        parsed = parse_url(given)
        is_sqlite = parsed.get_backend_name() == "sqlite"
        should_create = is_sqlite if create is None else create
        path = sqlite_file(parsed) if is_sqlite and not should_create else None
        if path is not None and not path.is_file():
            raise StoreUnavailableError(
                f"no AIM store at {redact(given)}: record a run into it, or create it with: "
                f"aimops init {store_option(redact(given))}"
            )
        engine = open_engine(parsed.render_as_string(hide_password=False), timeout=timeout)
        store = cls(engine, actor=actor, label=redact(given))
        try:
            store._prepare(should_create)
        except BaseException:
            engine.dispose()
            raise
        return store

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def close(self) -> None:
        """Release the store's connections."""
        self._engine.dispose()

    def __enter__(self) -> AimStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _prepare(self, create: bool) -> None:
        with self._connect(write=create) as connection:
            if create and current_revision(connection) is None:
                upgrade_schema(connection)
            check_schema(connection, self.label)

    def upgrade(self) -> str:
        """Create the schema or bring it to the newest revision; returns that revision."""
        with self._connect(write=True) as connection:
            upgrade_schema(connection)
            revision = current_revision(connection)
        assert revision is not None
        return revision

    # -- transactions -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, *, write: bool) -> Iterator[Connection]:
        writing = getattr(self._writing, "active", False)
        if write and writing:
            raise InvalidInputError(
                "a write through the store while its transaction() is open in the same thread "
                "would wait for itself; write through the writer the transaction yields"
            )
        with translate_errors(self.label), self._engine.connect() as connection:
            connection.info["aimops_begin"] = "IMMEDIATE" if write else "DEFERRED"
            self._writing.active = writing or write
            try:
                with connection.begin():
                    yield connection
            finally:
                self._writing.active = writing

    @contextlib.contextmanager
    def transaction(self, *, actor: str | None = None) -> Iterator[StoreWriter]:
        """An atomic batch of writes: all of them commit, or none when the block raises."""
        with self._connect(write=True) as connection:
            yield StoreWriter(connection, actor or self.actor)

    def write(self, work: Callable[[StoreWriter], T], *, actor: str | None = None) -> T:
        """Run ``work`` in a transaction, retrying it when a concurrent writer got in the way."""
        for attempt in range(WRITE_RETRIES):
            try:
                with self.transaction(actor=actor) as writer:
                    return work(writer)
            except ConcurrentUpdateError:
                if attempt == WRITE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- writes -----------------------------------------------------------------------------

    def put_entity(self, urn: UrnLike) -> str:
        """Make sure an entity exists; returns its canonical URN."""
        self.write(lambda tx: tx.put_entity(urn))
        return str(Urn.parse(urn))

    def put_aspect(
        self, urn: UrnLike, aspect: str, value: Any, *, expected_version: int | None = None
    ) -> int:
        """Append a version of an aspect (see :meth:`StoreWriter.put_aspect`)."""
        return self.write(
            lambda tx: tx.put_aspect(urn, aspect, value, expected_version=expected_version)
        )

    def put_edge(self, src: UrnLike, relation: str, dst: UrnLike) -> None:
        """Record ``src relation dst``; both must exist."""
        self.write(lambda tx: tx.put_edge(src, relation, dst))

    def put_points(
        self, urn: UrnLike, metric: str, points: Sequence[tuple[datetime, float]]
    ) -> int:
        """Add time-series points to ``urn``; returns how many were given."""
        return self.write(lambda tx: tx.put_points(urn, metric, points))

    # -- reads ------------------------------------------------------------------------------

    def _entity_id(self, connection: Connection, urn: UrnLike) -> int | None:
        return connection.execute(ENTITY_ID_BY_URN, {"urn": str(Urn.parse(urn))}).scalar()

    def get_entity(self, urn: UrnLike) -> Entity | None:
        """The entity, or None when it is not in the store."""
        table = schema.entities
        with self._connect(write=False) as connection:
            row = connection.execute(
                select(table.c.urn, table.c.type, table.c.created_at).where(
                    table.c.urn == str(Urn.parse(urn))
                )
            ).first()
        return Entity(row.urn, row.type, row.created_at) if row else None

    def get_aspect(
        self, urn: UrnLike, aspect: str, version: int | None = None
    ) -> AspectVersion | None:
        """The latest (or the given) version of an aspect, or None."""
        aspect_spec(aspect)
        versions = self._aspect_versions(urn, [aspect], version=version, latest_only=True)
        return versions[0] if versions else None

    def get_aspects(self, urn: UrnLike) -> dict[str, AspectVersion]:
        """The latest version of every aspect the entity has, by aspect name."""
        return {found.aspect: found for found in self._aspect_versions(urn, None, latest_only=True)}

    def history(self, urn: UrnLike, aspect: str | None = None) -> list[AspectVersion]:
        """Every version of one aspect (or all aspects), oldest first."""
        if aspect is not None:
            aspect_spec(aspect)
        found = self._aspect_versions(urn, [aspect] if aspect else None, latest_only=False)
        return sorted(found, key=lambda item: (item.created_at, item.aspect, item.version))

    def _aspect_versions(
        self,
        urn: UrnLike,
        names: Sequence[str] | None,
        *,
        version: int | None = None,
        latest_only: bool,
    ) -> list[AspectVersion]:
        table = schema.aspects
        text_urn = str(Urn.parse(urn))
        with self._connect(write=False) as connection:
            entity_id = self._entity_id(connection, text_urn)
            if entity_id is None:
                return []
            query = select(table).where(table.c.entity_id == entity_id)
            if names:
                query = query.where(table.c.aspect.in_(names))
            if version is not None:
                query = query.where(table.c.version == version)
            elif latest_only:
                query = query.where(table.c.version == _latest_version(table, entity_id))
            rows = connection.execute(query.order_by(table.c.aspect, table.c.version)).all()
        return [
            AspectVersion(
                text_urn, row.aspect, row.version, json.loads(row.value), row.actor, row.created_at
            )
            for row in rows
        ]

    def latest_values(self, urns: Sequence[UrnLike], aspect: str) -> dict[str, Any]:
        """The latest value of ``aspect`` for each of ``urns`` that has it, in one query."""
        aspect_spec(aspect)
        texts = [str(Urn.parse(urn)) for urn in urns]
        if not texts:
            return {}
        table, entities = schema.aspects, schema.entities
        query = (
            select(entities.c.urn, table.c.value)
            .join(entities, entities.c.id == table.c.entity_id)
            .where(entities.c.urn.in_(texts), table.c.aspect == aspect)
            .where(table.c.version == _latest_version(table, table.c.entity_id))
        )
        with self._connect(write=False) as connection:
            return {row.urn: json.loads(row.value) for row in connection.execute(query)}

    def search(
        self,
        entity_type: str | None = None,
        *,
        where: Sequence[Condition] = (),
        tags: Mapping[str, str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Entity]:
        """Entities by type, tags and aspect fields, newest first.

        ``where`` holds ``("metrics.auroc", ">", 0.9)``-style conditions on indexed fields.
        """
        if not (0 <= limit <= MAX_COUNT and 0 <= offset <= MAX_COUNT):
            raise InvalidInputError(
                f"limit and offset must be between 0 and {MAX_COUNT:,}, got {limit} and {offset}"
            )
        query = search_query(entity_type, where, tags or {}).limit(limit).offset(offset)
        with self._connect(write=False) as connection:
            rows = connection.execute(query).all()
        return [Entity(row.urn, row.type, row.created_at) for row in rows]

    def count(
        self,
        entity_type: str | None = None,
        *,
        where: Sequence[Condition] = (),
        tags: Mapping[str, str] | None = None,
    ) -> int:
        """How many entities :meth:`search` would find without a limit."""
        inner = search_query(entity_type, where, tags or {}).order_by(None).subquery()
        with self._connect(write=False) as connection:
            return int(connection.execute(select(func.count()).select_from(inner)).scalar() or 0)

    def lineage(
        self,
        urn: UrnLike,
        *,
        direction: Direction = "both",
        depth: int = 5,
        edges: bool = True,
    ) -> LineageGraph:
        """The lineage subgraph around ``urn`` (see :mod:`aimops.metadata.lineage`).

        ``edges=False`` returns only the nodes (the closure), for when the shape is not needed.
        """
        text_urn = str(Urn.parse(urn))
        with self._connect(write=False) as connection:
            entity_id = self._entity_id(connection, text_urn)
            if entity_id is None:
                return LineageGraph(text_urn, direction, depth)
            return walk_lineage(connection, entity_id, text_urn, direction, depth, with_edges=edges)

    def get_points(
        self,
        urn: UrnLike,
        metric: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Point]:
        """Time-series points of ``metric`` on ``urn`` in time order."""
        with self._connect(write=False) as connection:
            entity_id = self._entity_id(connection, urn)
            if entity_id is None:
                return []
            return read_points(connection, entity_id, metric, since, until)

    def related(self, urn: UrnLike, relation: str, *, incoming: bool = False) -> list[Entity]:
        """Entities X with ``urn relation X`` (or ``X relation urn`` when ``incoming``)."""
        with self._connect(write=False) as connection:
            entity_id = self._entity_id(connection, urn)
            if entity_id is None:
                return []
            rows = connection.execute(neighbours_query(entity_id, relation, incoming)).all()
        return [Entity(row.urn, row.type, row.created_at) for row in rows]


def _latest_version(table: Any, entity_id: Any) -> Any:
    inner = table.alias("newer")
    return (
        select(func.max(inner.c.version))
        .where(inner.c.entity_id == entity_id, inner.c.aspect == table.c.aspect)
        .scalar_subquery()
    )
