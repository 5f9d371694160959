"""Board facts: the MDT's judgements and measurements, and the board's append-only decision record.

1. ``mdt_decisions`` gains the facts a tumor board decides on that the registry lacked (issue 11):
   per organ the specialists' judgement (technically resectable, ablatable, curable: ``yes`` /
   ``no`` / ``unknown``, never a yes/no column whose blank would read as "no"), the disease extent
   (bilobar, bilateral, extrahepatic, extrapulmonary), and the Charlson index, ASA class and FEV1
   (% predicted). They sit on the MDT decision because a judgement holds "as of" a meeting:
   ``board/case.py`` reads the latest meeting on or before the case date.
2. ``board_decisions``: what the board chose (``oligomet board decide``), append-only. Triggers
   refuse UPDATE and DELETE on SQLite and PostgreSQL; a correction is a new row pointing to the old one.
   It used to be created by ``board/decisions.py`` on first use; now every store has it.

Revision ID: 0004_board_facts
Revises: 0003
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_board_facts"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen copies (migrations must not follow later edits of fields.py or board/decisions.py).
_JUDGEMENTS = ("liver_resectable", "liver_ablatable", "liver_curable", "liver_bilobar", "lung_resectable",
               "lung_ablatable", "lung_curable", "lung_bilateral", "extrahepatic_disease", "extrapulmonary_disease")
_NEW = tuple((name, sa.Text()) for name in _JUDGEMENTS) + (
    ("charlson_index", sa.Integer()), ("asa_class", sa.Integer()), ("fev1_pct", sa.Float()))

_REFUSAL = "board_decisions is append-only: record a correction instead"
_SQLITE_GUARDS = tuple(
    f"CREATE TRIGGER board_decisions_no_{verb.lower()} BEFORE {verb} ON board_decisions "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END" for verb in ("UPDATE", "DELETE"))
_PG_GUARDS = (
    "CREATE OR REPLACE FUNCTION board_decisions_append_only() RETURNS trigger AS $$ BEGIN "
    f"RAISE EXCEPTION '{_REFUSAL}'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER board_decisions_append_only BEFORE UPDATE OR DELETE ON board_decisions "
    "FOR EACH ROW EXECUTE FUNCTION board_decisions_append_only()",
)


def upgrade() -> None:
    with op.batch_alter_table("mdt_decisions") as batch:
        for column, type_ in _NEW:
            batch.add_column(sa.Column(column, type_, nullable=True))
    # A database that used board decisions before this revision already has the table (created by
    # board/decisions.py then): keep its rows and (re)create only the guards.
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("board_decisions"):
        op.create_table(
            "board_decisions",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("patient_id", sa.String(), nullable=False),
            sa.Column("case_date", sa.Date(), nullable=False),
            sa.Column("chosen_option", sa.Text(), nullable=False),
            sa.Column("concordant", sa.Boolean(), nullable=False),
            sa.Column("reason", sa.Text()),
            sa.Column("recommended", sa.Text(), nullable=False),
            sa.Column("ruleset_version", sa.Text(), nullable=False),
            sa.Column("evidence_hash", sa.String(64), nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("role", sa.String(), nullable=False),
            sa.Column("corrects", sa.Integer(),
                      sa.ForeignKey("board_decisions.id", name="fk_board_decisions_corrects")),
        )
    _drop_guards(bind.dialect.name)
    op.create_index("ix_board_decisions_patient_id", "board_decisions", ["patient_id"], if_not_exists=True)
    op.create_index("ix_board_decisions_corrects", "board_decisions", ["corrects"], if_not_exists=True)
    for stmt in {"sqlite": _SQLITE_GUARDS, "postgresql": _PG_GUARDS}.get(bind.dialect.name, ()):
        op.execute(stmt)


def _drop_guards(dialect: str) -> None:
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS board_decisions_no_{verb}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS board_decisions_append_only ON board_decisions")


def downgrade() -> None:
    bind = op.get_bind()
    _drop_guards(bind.dialect.name)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS board_decisions_append_only()")
    op.drop_table("board_decisions")
    with op.batch_alter_table("mdt_decisions") as batch:
        for column, _ in reversed(_NEW):
            batch.drop_column(column)
