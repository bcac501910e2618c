"""Writes inside one transaction: everything a :class:`StoreWriter` does commits together.

Get one from :meth:`AimStore.transaction`; when the block raises, nothing it wrote is kept.

Example:
    >>> from aimops.metadata import AimStore
    >>> store = AimStore.open("sqlite://")
    >>> with store.transaction() as tx:
    ...     tx.put_aspect("urn:aim:dataset:iris", "datasetInfo", {"name": "iris"})
    1
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from aimops import validation
from aimops.errors import ConcurrentUpdateError, InvalidInputError, MissingEntityError
from aimops.metadata import schema
from aimops.metadata.aspects import dump_canonical, index_rows, to_jsonable
from aimops.metadata.relations import flow_endpoints
from aimops.metadata.timeseries import point_rows
from aimops.metadata.urns import Urn

UrnLike = str | Urn

# Statements built once: the writer's hot path runs them thousands of times a second.
ENTITY_ID_BY_URN = select(schema.entities.c.id).where(schema.entities.c.urn == bindparam("urn"))
_LATEST = (
    select(schema.aspects.c.version, schema.aspects.c.value)
    .where(
        schema.aspects.c.entity_id == bindparam("entity_id"),
        schema.aspects.c.aspect == bindparam("aspect"),
    )
    .order_by(schema.aspects.c.version.desc())
    .limit(1)
)
ENTITIES_BY_URN = select(schema.entities.c.id, schema.entities.c.urn).where(
    schema.entities.c.urn.in_(bindparam("urns", expanding=True))
)
_LATEST_OF_MANY = (
    select(schema.aspects.c.entity_id, schema.aspects.c.version, schema.aspects.c.value)
    .where(
        schema.aspects.c.entity_id.in_(bindparam("ids", expanding=True)),
        schema.aspects.c.aspect == bindparam("aspect"),
    )
    .order_by(schema.aspects.c.entity_id, schema.aspects.c.version)
)
#: How many values one IN (...) holds.
CHUNK = 500
_INSERT_ASPECT = insert(schema.aspects)
_INSERT_ASPECT_IF_NEW = (  # PostgreSQL: a concurrent writer's row wins, and we are told
    postgresql.insert(schema.aspects)
    .on_conflict_do_nothing(index_elements=["entity_id", "aspect", "version"])
    .returning(schema.aspects.c.version)
)
_DELETE_FIELDS = delete(schema.aspect_fields).where(
    schema.aspect_fields.c.entity_id == bindparam("entity_id"),
    schema.aspect_fields.c.aspect == bindparam("aspect"),
)
_INSERT_FIELDS = insert(schema.aspect_fields)
_FIELDS_SQL: dict[str, tuple[str, list[str] | None]] = {}  # per dialect: driver SQL, order


#: The longest URN the entity table holds.
MAX_URN = 1024


def storable_urn(urn: Urn) -> str:
    """``urn`` as the text the store keeps, when its entity table can hold it."""
    text = str(urn)
    if len(text) > MAX_URN:
        raise InvalidInputError(
            f"a URN may have at most {MAX_URN} characters (encoded), this {urn.type} has "
            f"{len(text)}: {text[:80]}..."
        )
    return text


def _field_rows(entity_id: int, aspect: str, data: Any) -> list[dict[str, Any]]:
    """The searchable-field rows of an aspect's JSON data."""
    return [
        {
            "entity_id": entity_id,
            "aspect": aspect,
            "field": field,
            "num_value": number,
            "text_value": text,
        }
        for field, number, text in index_rows(aspect, data)
    ]


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


@dataclass(frozen=True)
class _Upserts:
    """Insert-if-absent statements of one dialect."""

    entity: Any
    entity_rows: Any
    edges: Any
    points: Any


def _upserts(insert_for: Any) -> _Upserts:
    return _Upserts(
        entity=insert_for(schema.entities)
        .on_conflict_do_nothing(index_elements=["urn"])
        .returning(schema.entities.c.id),
        entity_rows=insert_for(schema.entities).on_conflict_do_nothing(index_elements=["urn"]),
        edges=insert_for(schema.edges).on_conflict_do_nothing(
            index_elements=["src_id", "relation", "dst_id"]
        ),
        points=insert_for(schema.points).on_conflict_do_nothing(
            index_elements=["entity_id", "metric", "timestamp"]
        ),
    )


_UPSERTS = {"sqlite": _upserts(sqlite.insert), "postgresql": _upserts(postgresql.insert)}


class StoreWriter:
    """Writes bound to one open transaction of an :class:`AimStore`."""

    def __init__(self, connection: Connection, actor: str) -> None:
        if not isinstance(connection, Connection):
            raise InvalidInputError(
                "a StoreWriter writes through an open SQLAlchemy connection (get one from "
                f"AimStore.transaction()), not {type(connection).__name__}"
            )
        self._connection = connection
        self.actor = validation.text(actor, "the actor", empty=False)
        self._ids: dict[str, int] = {}
        self._absent: set[str] = set()  # looked up in this transaction and not found
        # Created in this transaction: no aspect to read back but those written since, which
        # _latest_known holds.
        self._created: set[int] = set()
        # The latest (version, document) of aspects read or written in this transaction: a
        # read-then-write reads once. A concurrent writer is still caught, by the insert.
        self._latest_known: dict[tuple[int, str], tuple[int, str | None]] = {}
        self._statements = _UPSERTS[connection.dialect.name]
        # SQLite writers hold the write lock for the whole transaction (BEGIN IMMEDIATE), so
        # only PostgreSQL can meet a concurrent insert of the same version.
        self._guard_inserts = connection.dialect.name == "postgresql"

    @property
    def connection(self) -> Connection:
        return self._connection

    def entity_id(self, urn: UrnLike) -> int | None:
        """The row id of ``urn``, or None when it is not in the store."""
        if isinstance(urn, str) and urn in self._ids:  # canonical text seen before
            return self._ids[urn]
        text = str(Urn.parse(urn))
        if text in self._ids:
            return self._ids[text]
        if text in self._absent:
            return None
        found = self._connection.execute(ENTITY_ID_BY_URN, {"urn": text}).scalar()
        if found is None:
            self._absent.add(text)
        else:
            self._ids[text] = found
        return found

    def put_entity(self, urn: UrnLike) -> int:
        """Make sure the entity exists; returns its row id (the same one every time)."""
        parsed = Urn.parse(urn)
        existing = self.entity_id(parsed)
        if existing is not None:
            return existing
        text = storable_urn(parsed)
        created = self._connection.execute(
            self._statements.entity,
            {"urn": text, "type": parsed.type, "created_at": datetime.now(UTC)},
        ).scalar()
        self._absent.discard(text)
        if created is not None:
            self._created.add(created)
            entity_id: int | None = created
        else:  # another writer created it since we looked
            entity_id = self._connection.execute(ENTITY_ID_BY_URN, {"urn": text}).scalar()
        if entity_id is None:  # pragma: no cover - the conflicting row must exist
            raise MissingEntityError(f"could not create entity {text}")
        self._ids[text] = entity_id
        return entity_id

    def put_aspect(
        self,
        urn: UrnLike,
        aspect: str,
        value: Any,
        *,
        expected_version: int | None = None,
    ) -> int:
        """Append a version of ``aspect`` unless it equals the latest; returns the version.

        ``expected_version`` (0 = must not exist yet) makes the write fail with
        ConcurrentUpdateError when another writer has moved the aspect on.
        """
        aspect = validation.text(aspect, "an aspect name")
        expected = None if expected_version is None else {aspect: expected_version}
        return self.put_aspects(urn, {aspect: value}, expected_versions=expected)[aspect]

    def put_aspects(
        self,
        urn: UrnLike,
        values: Mapping[str, Any],
        *,
        expected_versions: Mapping[str, int] | None = None,
    ) -> dict[str, int]:
        """Append versions of several aspects of one entity at once; returns each version.

        All values are validated before anything is written; each aspect behaves as in
        :meth:`put_aspect` (a value equal to the latest is kept, not appended).
        """
        parsed = Urn.parse(urn)
        data = {aspect: to_jsonable(aspect, value, parsed.type) for aspect, value in values.items()}
        entity_id = self.put_entity(parsed)
        versions: dict[str, int] = {}
        rows: list[dict[str, Any]] = []
        now = datetime.now(UTC)
        for aspect, value in data.items():
            document = dump_canonical(value)
            latest_version, latest_value = self._latest(entity_id, aspect)
            expected = (expected_versions or {}).get(aspect)
            if expected is not None and expected != latest_version:
                raise ConcurrentUpdateError(
                    f"{parsed} aspect {aspect!r}: expected version {expected}, "
                    f"but the latest is {latest_version}; read it again and retry"
                )
            versions[aspect] = latest_version if latest_value == document else latest_version + 1
            self._latest_known[(entity_id, aspect)] = (versions[aspect], document)
            if versions[aspect] != latest_version:
                rows.append(
                    {
                        "entity_id": entity_id,
                        "aspect": aspect,
                        "version": versions[aspect],
                        "value": document,
                        "actor": self.actor,
                        "created_at": now,
                    }
                )
        self._insert_versions(rows, parsed)
        self._reindex(
            entity_id, [(row["aspect"], data[row["aspect"]], row["version"]) for row in rows]
        )
        return versions

    def _insert_versions(self, rows: list[dict[str, Any]], urn: Urn) -> None:
        if not rows:
            return
        if not self._guard_inserts:
            self._connection.execute(_INSERT_ASPECT, rows)
            return
        for row in rows:
            if self._connection.execute(_INSERT_ASPECT_IF_NEW, row).first() is None:
                raise ConcurrentUpdateError(
                    f"{urn} aspect {row['aspect']!r}: version {row['version']} was written by "
                    "another writer at the same time; read it again and retry"
                )

    def read_aspect(self, urn: UrnLike, aspect: str) -> tuple[Any, int]:
        """The latest value of an aspect as JSON data and its version; (None, 0) when absent."""
        entity_id = self.entity_id(urn)
        if entity_id is None:
            return None, 0
        version, document = self._latest(entity_id, aspect)
        return (json.loads(document) if document is not None else None), version

    def _latest(self, entity_id: int, aspect: str) -> tuple[int, str | None]:
        known = self._latest_known.get((entity_id, aspect))
        if known is not None:
            return known
        if entity_id in self._created:
            return 0, None
        row = self._connection.execute(_LATEST, {"entity_id": entity_id, "aspect": aspect}).first()
        found = (row.version, row.value) if row is not None else (0, None)
        self._latest_known[(entity_id, aspect)] = found
        return found

    def _reindex(self, entity_id: int, written: list[tuple[str, Any, int]]) -> None:
        """Replace the searchable fields of the aspects just written (name, data, version)."""
        rows = []
        for aspect, data, version in written:
            if version > 1:
                self._connection.execute(_DELETE_FIELDS, {"entity_id": entity_id, "aspect": aspect})
            rows += _field_rows(entity_id, aspect, data)
        if rows:
            self._insert_fields(rows)

    def _insert_fields(self, rows: list[dict[str, Any]]) -> None:
        """executemany straight to the driver: dozens of plain rows per write, no bind types."""
        dialect = self._connection.dialect
        if dialect.name not in _FIELDS_SQL:
            compiled = _INSERT_FIELDS.compile(dialect=dialect)
            _FIELDS_SQL[dialect.name] = (str(compiled), compiled.positiontup)
        sql, order = _FIELDS_SQL[dialect.name]
        params = [tuple(row[key] for key in order) for row in rows] if order else rows
        self._connection.exec_driver_sql(sql, params)

    # -- many entities at once (a run's end writes a hundred steps in one breath) -------------

    def entity_ids(self, urns: Iterable[UrnLike]) -> dict[str, int]:
        """The row ids of those of ``urns`` in the store, looked up together."""
        texts = {str(Urn.parse(urn)) for urn in urns}
        unknown = sorted(t for t in texts if t not in self._ids and t not in self._absent)
        for chunk in _chunks(unknown):
            found = self._connection.execute(ENTITIES_BY_URN, {"urns": chunk}).all()
            self._ids.update({row.urn: row.id for row in found})
            self._absent.update(set(chunk) - {row.urn for row in found})
        return {text: self._ids[text] for text in texts if text in self._ids}

    def put_entities(self, urns: Iterable[UrnLike]) -> dict[str, int]:
        """Make sure every one of ``urns`` exists, in a few statements; their row ids."""
        parsed = {str(urn): urn for urn in (Urn.parse(u) for u in urns)}
        known = self.entity_ids(parsed)
        missing = [parsed[text] for text in sorted(set(parsed) - set(known))]
        for urn in missing:
            storable_urn(urn)
        if missing:
            now = datetime.now(UTC)
            self._connection.execute(
                self._statements.entity_rows,
                [{"urn": str(urn), "type": urn.type, "created_at": now} for urn in missing],
            )
            texts = [str(urn) for urn in missing]
            self._absent.difference_update(texts)
            for chunk in _chunks(texts):
                found = self._connection.execute(ENTITIES_BY_URN, {"urns": chunk}).all()
                self._ids.update({row.urn: row.id for row in found})
                self._created.update(row.id for row in found)  # as good as new: no aspects
            known = {text: self._ids[text] for text in parsed}
        return known

    def read_aspects(self, urns: Iterable[UrnLike], aspect: str) -> dict[str, tuple[Any, int]]:
        """The latest value and version of ``aspect`` for each of ``urns`` that has it."""
        ids = self.entity_ids(urns)
        self._load_latest(list(ids.values()), aspect)
        found = {}
        for text, entity_id in ids.items():
            version, document = self._latest(entity_id, aspect)
            if document is not None:
                found[text] = (json.loads(document), version)
        return found

    def _load_latest(self, entity_ids: list[int], aspect: str) -> None:
        """Read the latest version of ``aspect`` of many entities into the transaction's memory."""
        wanted = [
            i
            for i in entity_ids
            if (i, aspect) not in self._latest_known and i not in self._created
        ]
        for chunk in _chunks(wanted):
            rows = self._connection.execute(_LATEST_OF_MANY, {"ids": chunk, "aspect": aspect})
            seen = set()
            for row in rows:
                self._latest_known[(row.entity_id, aspect)] = (row.version, row.value)
                seen.add(row.entity_id)
            for entity_id in set(chunk) - seen:
                self._latest_known[(entity_id, aspect)] = (0, None)

    def put_many(self, items: Iterable[tuple[UrnLike, str, Any]]) -> list[int]:
        """Write ``(urn, aspect, value)`` for many entities in a few statements; each version.

        Each value behaves as in :meth:`put_aspect` (validated first; kept when it equals the
        latest); nothing is written unless every value is valid.
        """
        parsed = [(Urn.parse(urn), aspect, value) for urn, aspect, value in items]
        data = [to_jsonable(aspect, value, urn.type) for urn, aspect, value in parsed]
        ids = self.put_entities(urn for urn, _, _ in parsed)
        for aspect in {aspect for _, aspect, _ in parsed}:
            self._load_latest([ids[str(u)] for u, a, _ in parsed if a == aspect], aspect)
        now = datetime.now(UTC)
        versions, rows, written = [], [], []
        for (urn, aspect, _), value in zip(parsed, data, strict=True):
            entity_id = ids[str(urn)]
            document = dump_canonical(value)
            latest_version, latest_value = self._latest(entity_id, aspect)
            version = latest_version if latest_value == document else latest_version + 1
            self._latest_known[(entity_id, aspect)] = (version, document)
            versions.append(version)
            if version != latest_version:
                rows.append(
                    {
                        "entity_id": entity_id,
                        "aspect": aspect,
                        "version": version,
                        "value": document,
                        "actor": self.actor,
                        "created_at": now,
                    }
                )
                written.append((entity_id, aspect, value, version, urn))
        if self._guard_inserts:
            for row, (*_, urn) in zip(rows, written, strict=True):
                self._insert_versions([row], urn)
        elif rows:
            self._connection.execute(_INSERT_ASPECT, rows)
        replaced = [
            {"entity_id": entity_id, "aspect": aspect}
            for entity_id, aspect, _, version, _ in written
            if version > 1
        ]
        if replaced:
            self._connection.execute(_DELETE_FIELDS, replaced)
        fields = []
        for entity_id, aspect, value, _, _ in written:
            fields += _field_rows(entity_id, aspect, value)
        if fields:
            self._insert_fields(fields)
        return versions

    def put_edge(self, src: UrnLike, relation: str, dst: UrnLike) -> None:
        """Record ``src relation dst``; both entities must exist. Idempotent."""
        self.put_edges([(src, relation, dst)])

    def put_edges(self, triples: Iterable[tuple[UrnLike, str, UrnLike]]) -> None:
        """Record several edges at once; all endpoints must exist."""
        rows = []
        now = datetime.now(UTC)
        for src, relation, dst in triples:
            validation.text(relation, "a relation")
            src_id, dst_id = self._existing_id(src, relation), self._existing_id(dst, relation)
            flow = flow_endpoints(relation, src=src_id, dst=dst_id)
            rows.append(
                {
                    "src_id": src_id,
                    "relation": relation,
                    "dst_id": dst_id,
                    "flow_from": flow[0] if flow else None,
                    "flow_to": flow[1] if flow else None,
                    "actor": self.actor,
                    "created_at": now,
                }
            )
        if rows:
            self._connection.execute(self._statements.edges, rows)

    def remove_edge(self, src: UrnLike, relation: str, dst: UrnLike) -> bool:
        """Remove ``src relation dst`` (a version that stops serving loses its ``serves``
        edge); False when there was no such edge."""
        validation.text(relation, "a relation")
        src_id, dst_id = self.entity_id(src), self.entity_id(dst)
        if src_id is None or dst_id is None:
            return False
        table = schema.edges
        removed = self._connection.execute(
            delete(table).where(
                table.c.src_id == src_id, table.c.relation == relation, table.c.dst_id == dst_id
            )
        )
        return bool(removed.rowcount)

    def _existing_id(self, urn: UrnLike, relation: str) -> int:
        entity_id = self.entity_id(urn)
        if entity_id is None:
            raise MissingEntityError(
                f"cannot add a {relation!r} edge: {Urn.parse(urn)} is not in the store"
            )
        return entity_id

    def put_points(
        self, urn: UrnLike, metric: str, points: Iterable[tuple[datetime, float]]
    ) -> int:
        """Add time-series points; a point already there (same timestamp) is kept as it was."""
        entity_id = self.put_entity(urn)
        rows = point_rows(entity_id, metric, points)
        if rows:
            self._connection.execute(self._statements.points, rows)
        return len(rows)
