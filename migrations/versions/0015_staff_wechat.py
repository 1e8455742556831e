"""staff accounts: the staff member's own WeChat identity, a linked worker account

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 02:00:00.000000

- ``staff_users.worker_id``: the mini-program account a staff member linked
  to their staff account with a one-time binding code, so that subscribe
  messages meant for staff (a wage-arrears case becoming collective) reach
  them through the outbox.  Nullable; unique (one staff account per worker
  account); ``ON DELETE SET NULL``.
- ``staff_users.wechat_bound_at``: when the link was made.
"""
import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("wechat_bound_at", UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_staff_users_worker_id"), ["worker_id"])
        batch_op.create_foreign_key(batch_op.f("fk_staff_users_worker_id_workers"), "workers", ["worker_id"], ["id"],
                                    ondelete="SET NULL")


def downgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_staff_users_worker_id_workers"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_staff_users_worker_id"), type_="unique")
        batch_op.drop_column("wechat_bound_at")
        batch_op.drop_column("worker_id")
