"""Initial AIM store schema: entities, aspect versions, searchable fields, edges, points.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ENTITY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def _entity_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["aim_entities.id"], name=op.f(f"fk_{table}_{column}_aim_entities")
    )


def upgrade() -> None:
    op.create_table(
        "aim_entities",
        sa.Column("id", ENTITY_ID, autoincrement=True, nullable=False),
        sa.Column("urn", sa.String(1024), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aim_entities")),
        sa.UniqueConstraint("urn", name=op.f("uq_aim_entities_urn")),
    )
    op.create_index("ix_aim_entities_type_id", "aim_entities", ["type", "id"])

    op.create_table(
        "aim_aspects",
        sa.Column("entity_id", ENTITY_ID, nullable=False),
        sa.Column("aspect", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        _entity_fk("entity_id", "aim_aspects"),
        sa.PrimaryKeyConstraint("entity_id", "aspect", "version", name=op.f("pk_aim_aspects")),
    )

    op.create_table(
        "aim_aspect_fields",
        sa.Column("entity_id", ENTITY_ID, nullable=False),
        sa.Column("aspect", sa.String(64), nullable=False),
        sa.Column("field", sa.String(256), nullable=False),
        sa.Column("num_value", sa.Float(), nullable=True),
        sa.Column("text_value", sa.String(512), nullable=True),
        _entity_fk("entity_id", "aim_aspect_fields"),
        sa.PrimaryKeyConstraint("entity_id", "aspect", "field", name=op.f("pk_aim_aspect_fields")),
    )
    # Partial indexes: a number is indexed only by value as a number, text only as text, so
    # each searchable field costs one index entry, not two.
    for kind in ("num", "text"):
        op.create_index(
            f"ix_aim_aspect_fields_{kind}",
            "aim_aspect_fields",
            ["aspect", "field", f"{kind}_value"],
            sqlite_where=sa.text(f"{kind}_value IS NOT NULL"),
            postgresql_where=sa.text(f"{kind}_value IS NOT NULL"),
        )

    op.create_table(
        "aim_edges",
        sa.Column("src_id", ENTITY_ID, nullable=False),
        sa.Column("relation", sa.String(64), nullable=False),
        sa.Column("dst_id", ENTITY_ID, nullable=False),
        sa.Column("flow_from", ENTITY_ID, nullable=True),
        sa.Column("flow_to", ENTITY_ID, nullable=True),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        _entity_fk("src_id", "aim_edges"),
        _entity_fk("dst_id", "aim_edges"),
        sa.PrimaryKeyConstraint("src_id", "relation", "dst_id", name=op.f("pk_aim_edges")),
    )
    op.create_index("ix_aim_edges_dst", "aim_edges", ["dst_id", "relation"])
    op.create_index("ix_aim_edges_flow_from", "aim_edges", ["flow_from", "flow_to", "relation"])
    op.create_index("ix_aim_edges_flow_to", "aim_edges", ["flow_to", "flow_from", "relation"])

    op.create_table(
        "aim_points",
        sa.Column("entity_id", ENTITY_ID, nullable=False),
        sa.Column("metric", sa.String(256), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        _entity_fk("entity_id", "aim_points"),
        sa.PrimaryKeyConstraint("entity_id", "metric", "timestamp", name=op.f("pk_aim_points")),
    )


def downgrade() -> None:
    for table in ("aim_points", "aim_edges", "aim_aspect_fields", "aim_aspects", "aim_entities"):
        op.drop_table(table)
