"""wage-arrears reports: one open report per worker and credit code, whatever the employer's name

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 02:10:00.000000

A worker with an open report (``submitted``, or ``accepted`` and its case not
finished) on an employer gets 409 ``report_pending`` for another report on the
same employer: the same normalised name (``uq_arrears_reports_open``) or, now,
the same unified social credit code under another name
(``uq_arrears_reports_open_code``).  Should a worker already hold two open
reports with one code, the index cannot be built and the upgrade stops: close
or decline one of them in the console first.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

OPEN_WITH_CODE = "status IN ('submitted', 'accepted') AND employer_credit_code IS NOT NULL"


def upgrade():
    with op.batch_alter_table("arrears_reports", schema=None) as batch_op:
        batch_op.create_index("uq_arrears_reports_open_code", ["worker_id", "employer_credit_code"], unique=True,
                              sqlite_where=sa.text(OPEN_WITH_CODE), postgresql_where=sa.text(OPEN_WITH_CODE))


def downgrade():
    with op.batch_alter_table("arrears_reports", schema=None) as batch_op:
        batch_op.drop_index("uq_arrears_reports_open_code")
