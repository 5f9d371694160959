"""Alembic migrations of the registry store, run programmatically by ``Store`` on open."""
