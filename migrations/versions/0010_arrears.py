"""wage-arrears reports: reports, evidence, cases, their timeline and collective alerts

The new staff role ``rights_staff`` needs no schema change: ``staff_roles.role``
is a plain string checked by the application (no CHECK lists the roles).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 22:36:43.310184

"""
from alembic import op
import sqlalchemy as sa

import models.base  # noqa: F401  (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


OPEN_CASES = "status IN ('accepted', 'coordinating', 'referred')"
OPEN_REPORTS = "status IN ('submitted', 'accepted')"


def _fk(table: str, column: str, target: str, **kwargs):
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), **kwargs)


def _check(table: str, name: str, condition: str):
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def _at(name: str, nullable: bool = False):
    return sa.Column(name, models.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "arrears_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("employer_name", sa.String(length=200), nullable=False),
        sa.Column("employer_key", sa.String(length=200), nullable=False),
        sa.Column("employer_credit_code", sa.String(length=18), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("collective", sa.Boolean(), nullable=False),
        _at("collective_at", nullable=True),
        sa.Column("referred_to", sa.String(length=32), nullable=True),
        sa.Column("amount_recovered", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("legal_aid_booking_id", sa.Integer(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("finished_at", nullable=True),
        _check("arrears_cases", "referred_to",
               "referred_to IS NULL OR referred_to IN ('labor_inspection', 'arbitration', 'court', 'legal_aid')"),
        _check("arrears_cases", "resolved_amount", "status <> 'resolved' OR amount_recovered IS NOT NULL"),
        _check("arrears_cases", "status", "status IN ('accepted', 'coordinating', 'referred', 'resolved', 'closed')"),
        _check("arrears_cases", "amount_recovered", "amount_recovered IS NULL OR amount_recovered >= 0"),
        _fk("arrears_cases", "legal_aid_booking_id", "legal_aid_bookings"),
        _fk("arrears_cases", "organization_id", "organizations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears_cases")),
    )
    with op.batch_alter_table("arrears_cases", schema=None) as batch_op:
        batch_op.create_index("ix_arrears_cases_credit_code", ["employer_credit_code"], unique=False)
        batch_op.create_index("ix_arrears_cases_org_status", ["organization_id", "status"], unique=False)
        batch_op.create_index("uq_arrears_cases_open", ["organization_id", "employer_key"], unique=True,
                              sqlite_where=sa.text(OPEN_CASES), postgresql_where=sa.text(OPEN_CASES))

    op.create_table(
        "arrears_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        _check("arrears_alerts", "kind", "kind IN ('collective')"),
        _fk("arrears_alerts", "acknowledged_by_id", "staff_users"),
        _fk("arrears_alerts", "case_id", "arrears_cases"),
        _fk("arrears_alerts", "organization_id", "organizations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears_alerts")),
        sa.UniqueConstraint("case_id", "kind", name=op.f("uq_arrears_alerts_case_id_kind")),
    )
    with op.batch_alter_table("arrears_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_arrears_alerts_org_open", ["organization_id", "acknowledged_at"], unique=False)

    op.create_table(
        "arrears_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("employer_name", sa.String(length=200), nullable=False),
        sa.Column("employer_key", sa.String(length=200), nullable=False),
        sa.Column("employer_credit_code", sa.String(length=18), nullable=True),
        sa.Column("work_address_enc", sa.Text(), nullable=True),
        sa.Column("period_from", sa.String(length=7), nullable=False),
        sa.Column("period_to", sa.String(length=7), nullable=False),
        sa.Column("amount_owed", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("workers_affected", sa.Integer(), nullable=False),
        sa.Column("description_enc", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decline_reason", sa.String(length=500), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("decided_at", nullable=True),
        _at("erased_at", nullable=True),
        _check("arrears_reports", "decline_reason", "status <> 'declined' OR decline_reason IS NOT NULL"),
        _check("arrears_reports", "status",
               "status IN ('submitted', 'accepted', 'declined', 'withdrawn', 'closed')"),
        _check("arrears_reports", "amount_owed", "amount_owed > 0"),
        _check("arrears_reports", "evidence_count", "evidence_count >= 0 AND evidence_count <= 3"),
        _check("arrears_reports", "period", "period_from <= period_to"),
        _check("arrears_reports", "workers_affected", "workers_affected >= 1"),
        _fk("arrears_reports", "case_id", "arrears_cases"),
        _fk("arrears_reports", "decided_by_id", "staff_users"),
        _fk("arrears_reports", "organization_id", "organizations"),
        _fk("arrears_reports", "worker_id", "workers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears_reports")),
    )
    with op.batch_alter_table("arrears_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arrears_reports_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_arrears_reports_org_status_created", ["organization_id", "status", "created_at"],
                              unique=False)
        batch_op.create_index("ix_arrears_reports_status_created", ["status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_arrears_reports_worker_id"), ["worker_id"], unique=False)
        batch_op.create_index("uq_arrears_reports_open", ["worker_id", "employer_key"], unique=True,
                              sqlite_where=sa.text(OPEN_REPORTS), postgresql_where=sa.text(OPEN_REPORTS))

    op.create_table(
        "arrears_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        _at("at"),
        _check("arrears_events", "kind", "kind IN ('submitted', 'withdrawn', 'accepted', 'declined', 'opened', "
                                         "'transition', 'collective')"),
        _check("arrears_events", "subject", "report_id IS NOT NULL OR case_id IS NOT NULL"),
        _fk("arrears_events", "case_id", "arrears_cases"),
        _fk("arrears_events", "report_id", "arrears_reports"),
        _fk("arrears_events", "staff_id", "staff_users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears_events")),
    )
    with op.batch_alter_table("arrears_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arrears_events_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_arrears_events_report_id"), ["report_id"], unique=False)

    op.create_table(
        "arrears_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("mime_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        _at("created_at"),
        _check("arrears_evidence", "mime_type", "mime_type IN ('image/jpeg', 'image/png')"),
        _check("arrears_evidence", "size", "size > 0"),
        _fk("arrears_evidence", "report_id", "arrears_reports", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrears_evidence")),
    )
    with op.batch_alter_table("arrears_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arrears_evidence_report_id"), ["report_id"], unique=False)


def downgrade():
    for table in ("arrears_evidence", "arrears_events", "arrears_reports", "arrears_alerts", "arrears_cases"):
        op.drop_table(table)  # their indexes go with them
