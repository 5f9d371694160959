"""SQLAlchemy Core tables of the store, built from the data model in ``fields.py``.

The database itself is created and upgraded by the Alembic migrations in ``migrations/``; this
metadata is what the store reads and writes with. ``tests/registry/test_store.py`` checks that
the migrated database has exactly these columns, so a field added to ``fields.py`` without a
migration fails the tests instead of failing at a user's import.
"""
from __future__ import annotations

import sqlalchemy as sa

from .fields import TABLE_ORDER, TABLES

_TYPES = {"date": sa.Date, "int": sa.Integer, "float": sa.Float, "bool": sa.Boolean}

metadata = sa.MetaData()

imports = sa.Table(
    "imports", metadata,
    sa.Column("import_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("imported_at", sa.DateTime, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("format", sa.Text, nullable=False),
    sa.Column("source_sha256", sa.String(64), nullable=False),
    sa.Column("data_lock", sa.Date),
    sa.Column("pseudonymised", sa.Boolean, nullable=False),
    sa.Column("oligomet_version", sa.Text, nullable=False),
    sa.Column("n_warnings", sa.Integer, nullable=False),
)
import_files = sa.Table(
    "import_files", metadata,
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.import_id"), primary_key=True),
    sa.Column("file", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("bytes", sa.BigInteger),
)
import_counts = sa.Table(
    "import_counts", metadata,
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.import_id"), primary_key=True),
    sa.Column("table_name", sa.Text, primary_key=True),
    sa.Column("rows", sa.Integer, nullable=False),
)
import_patients = sa.Table(
    "import_patients", metadata,
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.import_id"), primary_key=True),
    sa.Column("patient_id", sa.Text, primary_key=True),
)


def _registry_table(name: str) -> sa.Table:
    t = TABLES[name]
    cols = []
    if len(t.key) != 1:
        cols.append(sa.Column("id", sa.Integer, primary_key=True, autoincrement=True))
    for f in t.fields:
        args = [sa.ForeignKey(t.references[f.name])] if f.name in t.references else []
        is_pk = len(t.key) == 1 and f.name == t.key[0]
        cols.append(sa.Column(f.name, _TYPES.get(f.type, sa.Text)(), *args, primary_key=is_pk,
                              nullable=not (is_pk or f.required)))
    cols.append(sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.import_id"), nullable=False))
    return sa.Table(name, metadata, *cols)


registry_tables: dict[str, sa.Table] = {name: _registry_table(name) for name in TABLE_ORDER}
