"""Alembic environment for the AIM store: runs on the connection aimops hands it."""

from __future__ import annotations

from alembic import context

from aimops.metadata.schema import VERSION_TABLE, Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
