"""imports: every real spreadsheet import and what it did to each row (for undo); organizations' service areas

Revision ID: 0012_imports
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import models.base

revision = "0012_imports"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade():
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("undone_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.Column("undone_by_name", sa.String(length=64), nullable=True),
        sa.Column("removed", sa.Integer(), nullable=True),
        sa.Column("restored", sa.Integer(), nullable=True),
        sa.Column("skipped", sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('stations', 'roster')", name=op.f("ck_imports_kind")),
        sa.CheckConstraint("status IN ('done', 'undone')", name=op.f("ck_imports_status")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_imports_organization_id_organizations")),
        sa.ForeignKeyConstraint(["actor_id"], ["staff_users.id"], name=op.f("fk_imports_actor_id_staff_users")),
        sa.ForeignKeyConstraint(["undone_by_id"], ["staff_users.id"],
                                name=op.f("fk_imports_undone_by_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.create_index("ix_imports_kind_created_at", ["kind", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_imports_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "import_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.CheckConstraint("action IN ('created', 'updated')", name=op.f("ck_import_items_action")),
        sa.ForeignKeyConstraint(["import_id"], ["imports.id"], name=op.f("fk_import_items_import_id_imports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_items")),
    )
    with op.batch_alter_table("import_items", schema=None) as batch_op:
        batch_op.create_index("ix_import_items_import_id_id", ["import_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_import_items_record_id"), ["record_id"], unique=False)

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_area", JSON, nullable=True))


def downgrade():
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("service_area")
    op.drop_table("import_items")
    op.drop_table("imports")
