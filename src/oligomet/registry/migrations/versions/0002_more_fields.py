"""Fields users expect: primary sidedness, ablation margin, event confirmation, CA 19-9.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NEW = (("patients", "primary_sidedness", sa.Text()), ("treatments", "ablation_margin_mm", sa.Float()),
        ("events", "confirmed_by", sa.Text()), ("labs", "ca19_9", sa.Float()))


def upgrade() -> None:
    for table, column, type_ in _NEW:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, type_, nullable=True))


def downgrade() -> None:
    for table, column, _ in reversed(_NEW):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
