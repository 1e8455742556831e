"""breakfast check-ins: one per user per serving day, as well as one per roster entry

A user whose phone changed moves to the roster entry holding the new number;
without this index they could be served again that day on the new entry.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEX = "ix_breakfast_checkins_worker_day"


def upgrade():
    twice = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM (SELECT 1 FROM breakfast_checkins WHERE worker_id IS NOT NULL "
        "GROUP BY worker_id, serving_date HAVING count(*) > 1) AS d")).scalar()
    if twice:
        raise RuntimeError(
            f"{twice} (user, serving day) pairs already have more than one breakfast check-in; "
            "list them with: SELECT worker_id, serving_date, count(*) FROM breakfast_checkins "
            "WHERE worker_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1 — and decide on them before upgrading")
    with op.batch_alter_table("breakfast_checkins", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_index(INDEX, ["worker_id", "serving_date"], unique=True)


def downgrade():
    with op.batch_alter_table("breakfast_checkins", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_index(INDEX, ["worker_id", "serving_date"], unique=False)
