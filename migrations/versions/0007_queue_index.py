"""index the review queue's unfiltered order (newest first) so that deep pages need no sort

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("enrollment_applications", schema=None) as batch_op:
        batch_op.create_index("ix_enrollment_applications_submitted", ["submitted_at"], unique=False)


def downgrade():
    with op.batch_alter_table("enrollment_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollment_applications_submitted")
