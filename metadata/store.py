"""The AIM store: entities, versioned aspects, edges and time series behind one object.

Open it with :meth:`AimStore.open` (or ``aimops.connect``). A SQLite store is created and
migrated on first use; a PostgreSQL store must be created with ``aimops init``. Opening a store
for reading (``create=False``) never creates or changes it, and a SQLite store this process
cannot write is opened read-only. Reads return None for what is missing; writes validate first
and are atomic.

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
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection, Engine

from aimops import validation
from aimops.errors import ConcurrentUpdateError, InvalidInputError, StoreUnavailableError
from aimops.metadata import schema
from aimops.metadata.aspects import aspect_spec
from aimops.metadata.engine import (
    open_engine,
    parse_url,
    read_only_error,
    read_only_reason,
    redact,
    sqlite_file,
    store_option,
    translate_errors,
    use_write_ahead_log,
)
from aimops.metadata.lineage import Direction, LineageGraph, check_walk, walk_lineage
from aimops.metadata.migrate import (
    SchemaChange,
    head_revision,
    migrate_schema,
    read_schema_state,
    schema_is_current,
    schema_problem,
)
from aimops.metadata.search import (
    MAX_COUNT,
    Condition,
    check_page,
    check_relation,
    neighbours_query,
    search_query,
)
from aimops.metadata.store_values import AspectVersion, Entity, Point
from aimops.metadata.timeseries import check_metric, read_points
from aimops.metadata.urns import Urn
from aimops.metadata.writer import ENTITY_ID_BY_URN, StoreWriter, UrnLike
from aimops.settings import default_actor, default_store_url

T = TypeVar("T")
WRITE_RETRIES = 5


class AimStore:
    """A connection to one AIM store (SQLite file or PostgreSQL database)."""

    def __init__(
        self, engine: Engine, *, actor: str | None = None, label: str | None = None
    ) -> None:
        if not isinstance(engine, Engine):
            raise InvalidInputError(
                "AimStore(engine) takes a SQLAlchemy Engine; open a store by its URL with "
                f"AimStore.open(url), not with {type(engine).__name__} {validation.shown(engine)}"
            )
        self._engine = engine
        #: Per thread: whether a write transaction is open ("active"), and the connection every
        #: read shares inside reading() ("reading").
        self._in_thread = threading.local()
        self._read_only = read_only_reason(engine)
        self._found_empty_file = False
        self.label = validation.optional_text(label, "label") or redact(engine.url)
        self.actor = _actor(actor)

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
        Without it, a missing or empty SQLite file is an error that says to run ``aimops
        init``, and nothing is written. ``timeout`` (seconds) bounds connecting and every wait
        for a lock or a statement. A schema that is not this aimops' (missing, older, newer,
        damaged) raises a :class:`~aimops.errors.SchemaError` that says what to do.
        """
        given = _store_url(url)
        should_create = (
            parse_url(given).get_backend_name() == "sqlite"
            if create is None
            else validation.flag(create, "create")
        )
        store = cls.open_unchecked(given, actor=actor, create=should_create, timeout=timeout)
        try:
            store._prepare(should_create)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_unchecked(
        cls,
        url: str | None = None,
        *,
        actor: str | None = None,
        create: bool = False,
        timeout: float | None = None,
    ) -> AimStore:
        """Open the store without looking at its schema: for :meth:`change_schema` (``aimops
        init`` and ``aimops db upgrade``), which creates, upgrades or repairs it.

        Unless ``create``, a SQLite file must exist and not be empty.
        """
        given = _store_url(url)
        _actor(actor)
        validation.flag(create, "create")
        validation.optional_real_number(timeout, "timeout", minimum=0)
        parsed = parse_url(given)
        label = redact(given)
        path = sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
        found_empty_file = path is not None and _is_empty_file(path, label)
        if path is not None and not create:
            _require_store_file(path, label, found_empty_file)
        engine = open_engine(parsed.render_as_string(hide_password=False), timeout=timeout)
        store = cls(engine, actor=actor, label=label)
        store._found_empty_file = found_empty_file
        return store

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def read_only(self) -> bool:
        """True for a SQLite store this process cannot write: reads work, writes are refused."""
        return self._read_only is not None

    def close(self) -> None:
        """Release the store's connections."""
        self._engine.dispose()

    def __enter__(self) -> AimStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _prepare(self, create: bool) -> None:
        with self._connect(write=False) as connection:
            if schema_is_current(connection):
                return
            state = read_schema_state(connection)
        if create and state.kind == "empty" and self._read_only is None:
            self.change_schema(create=True)
            return
        problem = schema_problem(state, self.label)
        if problem is not None:
            raise problem

    def upgrade(self) -> str:
        """Create the schema or bring it to the newest revision; returns that revision."""
        return self.change_schema(create=True).revision

    def change_schema(self, *, create: bool, repair: bool = False) -> SchemaChange:
        """Bring the schema to this aimops' newest revision (see :func:`migrate_schema`).

        Upgrades an older schema; ``create`` creates one where there is none; ``repair``
        rewrites a damaged version record when the tables provably match. It reads first and
        writes only when there is something to change: a current read-only store is fine, one
        that needs a change raises the read-only error. A schema it must not touch (a newer
        aimops's, damaged beyond proof) raises a :class:`~aimops.errors.SchemaError`.
        """
        with self._connect(write=False) as connection:
            state = read_schema_state(connection)
        kind = state.kind
        if kind == "current":
            note = "read-only for this user: it can be read, not written" if self.read_only else ""
            return SchemaChange(head_revision(), "none", note)
        if not state.can_migrate(create=create, repair=repair):
            raise schema_problem(state, self.label) or AssertionError(kind)
        if self._read_only is not None:
            raise read_only_error(self.label, self._read_only)
        use_write_ahead_log(self._engine, self.label)
        with self._connect(write=True) as connection:
            change = migrate_schema(connection, self.label, create=create, repair=repair)
        if change.action == "created" and self._found_empty_file:
            return SchemaChange(change.revision, change.action, "created in the empty file")
        return change

    # -- transactions -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, *, write: bool) -> Iterator[Connection]:
        if write and self._read_only is not None:
            raise read_only_error(self.label, self._read_only)
        pinned = getattr(self._in_thread, "reading", None)
        if pinned is not None and not write:  # inside reading(): one connection for every read
            yield pinned
            return
        writing = getattr(self._in_thread, "active", False)
        if write and writing:
            raise InvalidInputError(
                "a write through the store while its transaction() is open in the same thread "
                "would wait for itself; write through the writer the transaction yields"
            )
        with translate_errors(self.label), self._engine.connect() as connection:
            connection.info["aimops_begin"] = "IMMEDIATE" if write else "DEFERRED"
            self._in_thread.active = writing or write
            try:
                with connection.begin():
                    yield connection
            finally:
                self._in_thread.active = writing

    @contextlib.contextmanager
    def reading(self) -> Iterator[AimStore]:
        """Make every read in the block (in this thread) share one connection and transaction:
        one round trip to the pool instead of one per read, which a lookup of many small reads
        (a lifecycle transition's evidence) feels on PostgreSQL. A write inside takes its own
        connection, as outside.

        Example:
            >>> store = AimStore.open("sqlite://")
            >>> with store.reading():
            ...     store.get_entity("urn:aim:model:churn"), store.related(
            ...         "urn:aim:model:churn", "versionOf", incoming=True)
            (None, [])
        """
        if getattr(self._in_thread, "reading", None) is not None:
            yield self  # already inside one
            return
        with self._connect(write=False) as connection:
            self._in_thread.reading = connection
            try:
                yield self
            finally:
                self._in_thread.reading = None

    @contextlib.contextmanager
    def transaction(self, *, actor: str | None = None) -> Iterator[StoreWriter]:
        """An atomic batch of writes: all of them commit, or none when the block raises."""
        validation.optional_text(actor, "actor", empty=False)
        with self._connect(write=True) as connection:
            yield StoreWriter(connection, actor or self.actor)

    def write(self, work: Callable[[StoreWriter], T], *, actor: str | None = None) -> T:
        """Run ``work`` in a transaction, retrying it when a concurrent writer got in the way."""
        if not callable(work):
            raise InvalidInputError(
                f"write() runs a function of the store's writer, not {validation.shown(work)}"
            )
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
        aspect_spec(aspect)
        validation.optional_whole_number(
            expected_version, "expected_version", minimum=0, maximum=MAX_COUNT
        )
        return self.write(
            lambda tx: tx.put_aspect(urn, aspect, value, expected_version=expected_version)
        )

    def put_edge(self, src: UrnLike, relation: str, dst: UrnLike) -> None:
        """Record ``src relation dst``; both must exist."""
        check_relation(relation)
        self.write(lambda tx: tx.put_edge(src, relation, dst))

    def put_points(
        self, urn: UrnLike, metric: str, points: Sequence[tuple[datetime, float]]
    ) -> int:
        """Add time-series points to ``urn``; returns how many were given."""
        check_metric(metric)
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
        validation.optional_whole_number(version, "version", minimum=0, maximum=MAX_COUNT)
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
        texts = [str(Urn.parse(urn)) for urn in validation.items(urns, "urns")]
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

    def related_values(
        self, urn: UrnLike, relation: str, aspect: str, *, incoming: bool = False
    ) -> dict[str, Any]:
        """Each entity :meth:`related` gives, with the latest value of ``aspect`` (None when it
        has none), in one query: what a lookup of "every evaluation of this version, and what
        it is" needs without a round trip per step.

        Example:
            >>> store = AimStore.open("sqlite://")
            >>> store.put_aspect("urn:aim:model:churn", "modelInfo", {"name": "churn"})
            1
            >>> store.put_entity("urn:aim:modelVersion:churn/1")
            'urn:aim:modelVersion:churn/1'
            >>> store.put_edge("urn:aim:modelVersion:churn/1", "versionOf", "urn:aim:model:churn")
            >>> store.related_values("urn:aim:model:churn", "versionOf", "lifecycle", incoming=True)
            {'urn:aim:modelVersion:churn/1': None}
        """
        check_relation(relation)
        aspect_spec(aspect)
        validation.flag(incoming, "incoming")
        query = _RELATED_VALUES[bool(incoming)]
        with self._connect(write=False) as connection:
            rows = connection.execute(
                query, {"urn": str(Urn.parse(urn)), "relation": relation, "aspect": aspect}
            )
            return {
                row.urn: json.loads(row.value) if row.value is not None else None for row in rows
            }

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
        check_page(limit, offset)
        query = search_query(entity_type, where, tags).limit(limit).offset(offset)
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
        inner = search_query(entity_type, where, tags).order_by(None).subquery()
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
        check_walk(direction, depth)
        validation.flag(edges, "edges")
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
        check_metric(metric)
        validation.optional_moment(since, "since")
        validation.optional_moment(until, "until")
        with self._connect(write=False) as connection:
            entity_id = self._entity_id(connection, urn)
            if entity_id is None:
                return []
            return read_points(connection, entity_id, metric, since, until)

    def related(self, urn: UrnLike, relation: str, *, incoming: bool = False) -> list[Entity]:
        """Entities X with ``urn relation X`` (or ``X relation urn`` when ``incoming``)."""
        check_relation(relation)
        validation.flag(incoming, "incoming")
        with self._connect(write=False) as connection:
            entity_id = self._entity_id(connection, urn)
            if entity_id is None:
                return []
            rows = connection.execute(neighbours_query(entity_id, relation, incoming)).all()
        return [Entity(row.urn, row.type, row.created_at) for row in rows]


def _store_url(url: Any) -> str:
    """``url``, else the configured store's (``AIMOPS_STORE_URL`` or ``$AIMOPS_HOME/aim.db``)
    when it is None or empty; a URL that is not text is refused by :func:`parse_url`."""
    if url is None or (isinstance(url, str) and not url):
        return default_store_url()
    return url  # type: ignore[no-any-return]  # parse_url refuses what is not text


def _actor(actor: Any) -> str:
    """Who writes: ``actor`` (non-empty storable text), else the operating-system user."""
    return validation.optional_text(actor, "actor", empty=False) or default_actor()


def _is_empty_file(path: Path, label: str) -> bool:
    """True for an existing SQLite file of 0 bytes (no database written into it yet)."""
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError as exc:  # a folder on the way this user may not enter
        raise StoreUnavailableError(f"cannot read the AIM store at {label}: {exc}") from exc


def _require_store_file(path: Path, label: str, empty: bool) -> None:
    """Refuse to open a missing or empty SQLite file for reading, saying how to create it."""
    init = f"aimops init {store_option(label)}"
    if not path.is_file():
        raise StoreUnavailableError(
            f"no AIM store at {label}: record a run into it, or create it with: {init}"
        )
    if empty:
        raise StoreUnavailableError(
            f"no AIM store at {label}: the file is empty (0 bytes); create the store in it "
            f"with: {init} (init makes an empty file a new store)"
        )


def _related_values_query(incoming: bool) -> Any:
    """Entities joined by ``:relation`` edges to the entity ``:urn``, each with the latest value
    of ``:aspect`` (NULL when it has none); built once, so only its parameters change."""
    entities, edges, aspects = schema.entities, schema.edges, schema.aspects
    origin = entities.alias("origin")
    near, far = (edges.c.dst_id, edges.c.src_id) if incoming else (edges.c.src_id, edges.c.dst_id)
    newest = aspects.alias("newest")
    latest = (
        select(func.max(newest.c.version))
        .where(newest.c.entity_id == entities.c.id, newest.c.aspect == bindparam("aspect"))
        .scalar_subquery()
    )
    return (
        select(entities.c.urn, aspects.c.value)
        .select_from(origin)
        .join(edges, near == origin.c.id)
        .join(entities, far == entities.c.id)
        .outerjoin(
            aspects,
            (aspects.c.entity_id == entities.c.id)
            & (aspects.c.aspect == bindparam("aspect"))
            & (aspects.c.version == latest),
        )
        .where(origin.c.urn == bindparam("urn"), edges.c.relation == bindparam("relation"))
        .order_by(entities.c.id)
    )


_RELATED_VALUES = {incoming: _related_values_query(incoming) for incoming in (False, True)}


def _latest_version(table: Any, entity_id: Any) -> Any:
    inner = table.alias("newer")
    return (
        select(func.max(inner.c.version))
        .where(inner.c.entity_id == entity_id, inner.c.aspect == table.c.aspect)
        .scalar_subquery()
    )
