"""Initial registry schema: provenance tables and the seven registry tables of fields.py.

Frozen copy of the data model at the time of writing (migrations must not follow later edits of
fields.py; a test compares the migrated database with the current model so a new field without
a migration fails).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("import_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("data_lock", sa.Date()),
        sa.Column("pseudonymised", sa.Boolean(), nullable=False),
        sa.Column("oligomet_version", sa.Text(), nullable=False),
        sa.Column("n_warnings", sa.Integer(), nullable=False),
    )
    op.create_index("ix_imports_source_sha256", "imports", ["source_sha256"])
    op.create_table(
        "import_files",
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("imports.import_id", name="fk_import_files_import"),
                  primary_key=True),
        sa.Column("file", sa.Text(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger()),
    )
    op.create_table(
        "import_counts",
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("imports.import_id", name="fk_import_counts_import"),
                  primary_key=True),
        sa.Column("table_name", sa.Text(), primary_key=True),
        sa.Column("rows", sa.Integer(), nullable=False),
    )
    # The patients an import brought: the set it replaces on write (patient-level upsert).
    op.create_table(
        "import_patients",
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("imports.import_id", name="fk_import_patients_import"),
                  primary_key=True),
        sa.Column("patient_id", sa.Text(), primary_key=True),
    )
    op.create_table(
        "patients",
        sa.Column("patient_id", sa.Text(), primary_key=True),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=False),
        sa.Column("birth_year", sa.Integer()),
        sa.Column("primary_site", sa.Text(), nullable=False),
        sa.Column("histology", sa.Text()),
        sa.Column("primary_diagnosis_date", sa.Date(), nullable=False),
        sa.Column("primary_resection_date", sa.Date()),
        sa.Column("node_positive", sa.Boolean()),
        sa.Column("ras", sa.Text()),
        sa.Column("braf", sa.Text()),
        sa.Column("msi", sa.Text()),
        sa.Column("ecog", sa.Integer()),
        sa.Column("death_date", sa.Date()),
        sa.Column("last_contact_date", sa.Date()),
        sa.Column("pseudonym", sa.Text()),
        sa.Column("import_id", sa.Integer(),
                  sa.ForeignKey("imports.import_id", name="fk_patients_import"), nullable=False),
    )
    op.create_table(
        "lesions",
        sa.Column("lesion_id", sa.Text(), primary_key=True),
        sa.Column("patient_id", sa.Text(),
                  sa.ForeignKey("patients.patient_id", name="fk_lesions_patient_id"), nullable=False),
        sa.Column("organ", sa.Text(), nullable=False),
        sa.Column("detection_date", sa.Date(), nullable=False),
        sa.Column("diameter_mm", sa.Float()),
        sa.Column("segment_or_lobe", sa.Text()),
        sa.Column("import_id", sa.Integer(),
                  sa.ForeignKey("imports.import_id", name="fk_lesions_import"), nullable=False),
    )
    op.create_index("ix_lesions_patient_id", "lesions", ["patient_id"])
    op.create_table(
        "treatments",
        sa.Column("treatment_id", sa.Text(), primary_key=True),
        sa.Column("patient_id", sa.Text(),
                  sa.ForeignKey("patients.patient_id", name="fk_treatments_patient_id"), nullable=False),
        sa.Column("lesion_ids", sa.Text()),
        sa.Column("modality", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date()),
        sa.Column("intent", sa.Text()),
        sa.Column("approach", sa.Text()),
        sa.Column("margin", sa.Text()),
        sa.Column("dose_gy", sa.Float()),
        sa.Column("fractions", sa.Integer()),
        sa.Column("regimen", sa.Text()),
        sa.Column("line", sa.Integer()),
        sa.Column("setting", sa.Text()),
        sa.Column("import_id", sa.Integer(),
                  sa.ForeignKey("imports.import_id", name="fk_treatments_import"), nullable=False),
    )
    op.create_index("ix_treatments_patient_id", "treatments", ["patient_id"])
    op.create_table(
        "complications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("treatment_id", sa.Text(),
                  sa.ForeignKey("treatments.treatment_id", name="fk_complications_treatment_id"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("clavien_dindo", sa.Text(), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("import_id", sa.Integer(),
                  sa.ForeignKey("imports.import_id", name="fk_complications_import"), nullable=False),
    )
    op.create_index("ix_complications_treatment_id", "complications", ["treatment_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.Text(),
                  sa.ForeignKey("patients.patient_id", name="fk_events_patient_id"), nullable=False),
        sa.Column("lesion_id", sa.Text(),
                  sa.ForeignKey("lesions.lesion_id", name="fk_events_lesion_id")),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("organ", sa.Text()),
        sa.Column("import_id", sa.Integer(),
                  sa.ForeignKey("imports.import_id", name="fk_events_import"), nullable=False),
    )
    op.create_index("ix_events_patient_id", "events", ["patient_id"])
    op.create_table(
        "labs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.Text(),
                  sa.ForeignKey("patients.patient_id", name="fk_labs_patient_id"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("cea", sa.Float()),
        sa.Column("import_id", sa.Integer(),
                  sa.ForeignKey("imports.import_id", name="fk_labs_import"), nullable=False),
    )
    op.create_index("ix_labs_patient_id", "labs", ["patient_id"])
    op.create_table(
        "mdt_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.Text(),
                  sa.ForeignKey("patients.patient_id", name="fk_mdt_decisions_patient_id"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("recommendation", sa.Text(), nullable=False),
        sa.Column("import_id", sa.Integer(),
                  sa.ForeignKey("imports.import_id", name="fk_mdt_decisions_import"), nullable=False),
    )
    op.create_index("ix_mdt_decisions_patient_id", "mdt_decisions", ["patient_id"])


def downgrade() -> None:
    for name in ("mdt_decisions", "labs", "events", "complications", "treatments", "lesions", "patients",
                 "import_patients", "import_counts", "import_files", "imports"):
        op.drop_table(name)
