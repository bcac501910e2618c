"""The AIM store's tables (SQLAlchemy 2 typed declarative; Alembic owns their creation).

- ``aim_entities``: one row per URN.
- ``aim_aspects``: append-only aspect versions keyed by (entity, aspect, version).
- ``aim_aspect_fields``: the searchable fields of each aspect's latest version.
- ``aim_edges``: typed relations; ``flow_from``/``flow_to`` hold the data-flow direction
  (null for structural relations such as ``partOf``) so lineage walks one indexed column.
- ``aim_points``: time-series points.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
VERSION_TABLE = "aim_alembic_version"
#: The newest migration's revision; a test keeps it equal to Alembic's head. Checking a store
#: against it needs one query and no Alembic, which keeps opening the store cheap in every
#: Airflow task process.
HEAD_REVISION = "0001"

EntityId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class EntityRow(Base):
    __tablename__ = "aim_entities"

    id: Mapped[int] = mapped_column(EntityId, primary_key=True, autoincrement=True)
    urn: Mapped[str] = mapped_column(String(1024), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_aim_entities_type_id", "type", "id"),)


class AspectRow(Base):
    __tablename__ = "aim_aspects"

    entity_id: Mapped[int] = mapped_column(
        EntityId, ForeignKey("aim_entities.id"), primary_key=True
    )
    aspect: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AspectFieldRow(Base):
    __tablename__ = "aim_aspect_fields"

    entity_id: Mapped[int] = mapped_column(
        EntityId, ForeignKey("aim_entities.id"), primary_key=True
    )
    aspect: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(256), primary_key=True)
    num_value: Mapped[float | None] = mapped_column(Float)
    text_value: Mapped[str | None] = mapped_column(String(512))

    __table_args__ = (
        Index(
            "ix_aim_aspect_fields_num",
            "aspect",
            "field",
            "num_value",
            sqlite_where=text("num_value IS NOT NULL"),
            postgresql_where=text("num_value IS NOT NULL"),
        ),
        Index(
            "ix_aim_aspect_fields_text",
            "aspect",
            "field",
            "text_value",
            sqlite_where=text("text_value IS NOT NULL"),
            postgresql_where=text("text_value IS NOT NULL"),
        ),
    )


class EdgeRow(Base):
    __tablename__ = "aim_edges"

    src_id: Mapped[int] = mapped_column(EntityId, ForeignKey("aim_entities.id"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(64), primary_key=True)
    dst_id: Mapped[int] = mapped_column(EntityId, ForeignKey("aim_entities.id"), primary_key=True)
    flow_from: Mapped[int | None] = mapped_column(EntityId)
    flow_to: Mapped[int | None] = mapped_column(EntityId)
    actor: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_aim_edges_dst", "dst_id", "relation"),
        # Covering indexes: a lineage walk and its edges never touch the table rows.
        Index("ix_aim_edges_flow_from", "flow_from", "flow_to", "relation"),
        Index("ix_aim_edges_flow_to", "flow_to", "flow_from", "relation"),
    )


class PointRow(Base):
    __tablename__ = "aim_points"

    entity_id: Mapped[int] = mapped_column(
        EntityId, ForeignKey("aim_entities.id"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(256), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


entities = cast(Table, EntityRow.__table__)
aspects = cast(Table, AspectRow.__table__)
aspect_fields = cast(Table, AspectFieldRow.__table__)
edges = cast(Table, EdgeRow.__table__)
points = cast(Table, PointRow.__table__)

#: The names of aimops' tables (its version table aside): what a complete store holds.
AIM_TABLES = frozenset(Base.metadata.tables)
