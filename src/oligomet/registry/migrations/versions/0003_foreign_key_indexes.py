"""Index every foreign-key column (issue 16, D12).

Without an index on ``events.lesion_id``, deleting a re-imported patient's lesions made the
database scan the whole ``events`` table once per lesion (to check that no event still refers to
it): a re-import grew with the square of the store (PostgreSQL, 100,000 patients: 290 s instead of
about 20 s). The ``import_id`` columns are indexed too, so that every foreign key can be checked
and followed by index. Indexes that 0001 already created (``<table>.patient_id``,
``complications.treatment_id``) and the leading primary-key columns of the provenance tables
need none.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen list (migrations must not follow later edits of fields.py).
_INDEXES = (("events", "lesion_id"),) + tuple(
    (table, "import_id") for table in ("patients", "lesions", "treatments", "complications", "events", "labs",
                                       "mdt_decisions"))


def upgrade() -> None:
    for table, column in _INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(_INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
