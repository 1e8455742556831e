"""report templates: each organization's own Word template of the annual work report

One row per organization (``uq_report_templates_organization_id``): an upload
replaces the organization's template in one ``INSERT … ON CONFLICT DO UPDATE``.

Revision ID: 0013
Revises: 0012_imports
Create Date: 2026-11-30 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import models.base  # noqa: F401  (UTCDateTime)


# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012_imports"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by_name", sa.String(length=64), nullable=True),
        sa.Column("uploaded_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size > 0", name=op.f("ck_report_templates_size")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_report_templates_organization_id_organizations")),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["staff_users.id"],
                                name=op.f("fk_report_templates_uploaded_by_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_templates")),
        sa.UniqueConstraint("organization_id", name=op.f("uq_report_templates_organization_id")),
    )


def downgrade():
    op.drop_table("report_templates")
