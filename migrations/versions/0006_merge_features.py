"""merge the feature branches (enrollment, legal aid, stations, breakfast) into one head

Revision ID: 0006
Revises: 0002, 0003, 0004, 0005
"""
revision = "0006"
down_revision = ("0002", "0003", "0004", "0005")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
