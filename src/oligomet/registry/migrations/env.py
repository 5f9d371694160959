"""Alembic environment: migrations run on the connection the Store hands over (no alembic.ini)."""
from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the Store always passes its connection
    raise RuntimeError("run registry migrations through oligomet.registry.Store, which passes a connection")

# render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
