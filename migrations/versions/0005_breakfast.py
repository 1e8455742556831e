"""breakfast: points, roster, check-ins, per-point daily counters

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-24 21:23:52.714642

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401

import models.base  # noqa: F401  (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('breakfast_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('serving_start', sa.Time(), nullable=False),
    sa.Column('serving_end', sa.Time(), nullable=False),
    sa.Column('daily_quota', sa.Integer(), nullable=False),
    sa.Column('geofence_m', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('qr_generation', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('daily_quota >= 1', name=op.f('ck_breakfast_points_quota_positive')),
    sa.CheckConstraint('geofence_m IS NULL OR geofence_m > 0', name=op.f('ck_breakfast_points_geofence_positive')),
    sa.CheckConstraint('qr_generation >= 1', name=op.f('ck_breakfast_points_qr_generation_positive')),
    sa.CheckConstraint('serving_end > serving_start', name=op.f('ck_breakfast_points_window_order')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_breakfast_points_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breakfast_points'))
    )
    with op.batch_alter_table('breakfast_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breakfast_points_organization_id'), ['organization_id'], unique=False)

    op.create_table('breakfast_roster',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('phone_enc', sa.String(length=255), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('phone_masked', sa.String(length=16), nullable=True),
    sa.Column('id_number_enc', sa.String(length=255), nullable=True),
    sa.Column('id_number_hash', sa.String(length=64), nullable=True),
    sa.Column('id_number_masked', sa.String(length=24), nullable=True),
    sa.Column('employer', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=True),
    sa.Column('linked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('erased_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_breakfast_roster_organization_id_organizations')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_breakfast_roster_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breakfast_roster')),
    sa.UniqueConstraint('worker_id', name=op.f('uq_breakfast_roster_worker_id'))
    )
    with op.batch_alter_table('breakfast_roster', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breakfast_roster_id_number_hash'), ['id_number_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_breakfast_roster_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('uq_breakfast_roster_phone_hash', ['phone_hash'], unique=True, sqlite_where=sa.text('phone_hash IS NOT NULL'), postgresql_where=sa.text('phone_hash IS NOT NULL'))

    op.create_table('breakfast_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('roster_entry_id', sa.Integer(), nullable=False),
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=True),
    sa.Column('serving_date', sa.Date(), nullable=False),
    sa.Column('checked_in_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('distance_m', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['point_id'], ['breakfast_points.id'], name=op.f('fk_breakfast_checkins_point_id_breakfast_points')),
    sa.ForeignKeyConstraint(['roster_entry_id'], ['breakfast_roster.id'], name=op.f('fk_breakfast_checkins_roster_entry_id_breakfast_roster')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_breakfast_checkins_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breakfast_checkins')),
    sa.UniqueConstraint('roster_entry_id', 'serving_date', name=op.f('uq_breakfast_checkins_roster_entry_id_serving_date'))
    )
    with op.batch_alter_table('breakfast_checkins', schema=None) as batch_op:
        batch_op.create_index('ix_breakfast_checkins_point_day', ['point_id', 'serving_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_breakfast_checkins_serving_date'), ['serving_date'], unique=False)
        batch_op.create_index('ix_breakfast_checkins_worker_day', ['worker_id', 'serving_date'], unique=False)

    op.create_table('breakfast_daily_counts',
    sa.Column('point_id', sa.Integer(), nullable=False),
    sa.Column('serving_date', sa.Date(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('served', sa.Integer(), nullable=False),
    sa.CheckConstraint('served <= quota', name=op.f('ck_breakfast_daily_counts_within_quota')),
    sa.CheckConstraint('served >= 0', name=op.f('ck_breakfast_daily_counts_served_nonnegative')),
    sa.ForeignKeyConstraint(['point_id'], ['breakfast_points.id'], name=op.f('fk_breakfast_daily_counts_point_id_breakfast_points')),
    sa.PrimaryKeyConstraint('point_id', 'serving_date', name=op.f('pk_breakfast_daily_counts'))
    )


def downgrade():
    op.drop_table('breakfast_daily_counts')
    with op.batch_alter_table('breakfast_checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_breakfast_checkins_worker_day')
        batch_op.drop_index(batch_op.f('ix_breakfast_checkins_serving_date'))
        batch_op.drop_index('ix_breakfast_checkins_point_day')

    op.drop_table('breakfast_checkins')
    with op.batch_alter_table('breakfast_roster', schema=None) as batch_op:
        batch_op.drop_index('uq_breakfast_roster_phone_hash', sqlite_where=sa.text('phone_hash IS NOT NULL'), postgresql_where=sa.text('phone_hash IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_breakfast_roster_organization_id'))
        batch_op.drop_index(batch_op.f('ix_breakfast_roster_id_number_hash'))

    op.drop_table('breakfast_roster')
    with op.batch_alter_table('breakfast_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breakfast_points_organization_id'))

    op.drop_table('breakfast_points')
