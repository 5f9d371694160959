"""What the seed studies measure: assessed vs performed resection extent, intra-operative findings,
how a recurrence was established, tumor-board review before salvage, and CTCAE adverse events.

``treatments`` gains ``assessed_extent`` (the resection the surgeon judged would be needed on the
imaging before SABR, ablation or resection), ``resection_extent`` (the extent performed) and
``extensive_adhesions``; ``events`` gains ``ct_progression``, ``fdg_pet_uptake`` and
``tumor_board_before_salvage``; the new ``adverse_events`` table holds adverse events of systemic
therapy graded by CTCAE (Clavien-Dindo grades only surgical and interventional complications).

Revision ID: 0005
Revises: 0004_board_facts
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004_board_facts"
branch_labels = None
depends_on = None

# Frozen copy (migrations must not follow later edits of fields.py).
_NEW = (("treatments", "assessed_extent", sa.Text()), ("treatments", "resection_extent", sa.Text()),
        ("treatments", "extensive_adhesions", sa.Text()), ("events", "ct_progression", sa.Boolean()),
        ("events", "fdg_pet_uptake", sa.Boolean()), ("events", "tumor_board_before_salvage", sa.Boolean()))


def upgrade() -> None:
    for table in ("treatments", "events"):
        with op.batch_alter_table(table) as batch:
            for t, column, type_ in _NEW:
                if t == table:
                    batch.add_column(sa.Column(column, type_, nullable=True))
    op.create_table(
        "adverse_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.Text(),
                  sa.ForeignKey("patients.patient_id", name="fk_adverse_events_patient_id"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("drug_related", sa.Boolean()),
        sa.Column("import_id", sa.Integer(),
                  sa.ForeignKey("imports.import_id", name="fk_adverse_events_import"), nullable=False),
    )
    op.create_index("ix_adverse_events_patient_id", "adverse_events", ["patient_id"])
    op.create_index("ix_adverse_events_import_id", "adverse_events", ["import_id"])


def downgrade() -> None:
    op.drop_index("ix_adverse_events_import_id", table_name="adverse_events")
    op.drop_index("ix_adverse_events_patient_id", table_name="adverse_events")
    op.drop_table("adverse_events")
    for table in ("events", "treatments"):
        with op.batch_alter_table(table) as batch:
            for t, column, _ in reversed(_NEW):
                if t == table:
                    batch.drop_column(column)
