"""stations: rest stations and workers' problem reports

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-24 22:10:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401

import models.base  # noqa: F401  (UTCDateTime)
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('amenities', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('opening_hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('closure', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('photos', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('lat >= -85.05112878 AND lat <= 85.05112878', name=op.f('ck_stations_lat_range')),
    sa.CheckConstraint('lng >= -180 AND lng <= 180', name=op.f('ck_stations_lng_range')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_stations_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stations'))
    )
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.create_index('ix_stations_lat_lng', ['lat', 'lng'], unique=False)
        batch_op.create_index(batch_op.f('ix_stations_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index('ix_stations_updated_at_id', ['updated_at', 'id'], unique=False)
        batch_op.create_index('uq_stations_code_live', ['code'], unique=True,
                              sqlite_where=sa.text('deleted_at IS NULL'),
                              postgresql_where=sa.text('deleted_at IS NULL'))

    op.create_table('station_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.Column('resolution_note', sa.String(length=500), nullable=True),
    sa.CheckConstraint("kind IN ('closed', 'wrong_location', 'facility_broken', 'other')", name=op.f('ck_station_reports_kind')),
    sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f('ck_station_reports_status')),
    sa.ForeignKeyConstraint(['resolved_by'], ['staff_users.id'], name=op.f('fk_station_reports_resolved_by_staff_users')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_station_reports_station_id_stations')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_station_reports_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_station_reports'))
    )
    with op.batch_alter_table('station_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_station_reports_station_id'), ['station_id'], unique=False)
        batch_op.create_index('ix_station_reports_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_station_reports_worker_id'), ['worker_id'], unique=False)
        batch_op.create_index('uq_station_reports_open', ['station_id', 'worker_id', 'kind'], unique=True,
                              sqlite_where=sa.text("status = 'open'"),
                              postgresql_where=sa.text("status = 'open'"))


def downgrade():
    with op.batch_alter_table('station_reports', schema=None) as batch_op:
        batch_op.drop_index('uq_station_reports_open')
        batch_op.drop_index(batch_op.f('ix_station_reports_worker_id'))
        batch_op.drop_index('ix_station_reports_status_created_at')
        batch_op.drop_index(batch_op.f('ix_station_reports_station_id'))

    op.drop_table('station_reports')
    with op.batch_alter_table('stations', schema=None) as batch_op:
        batch_op.drop_index('uq_stations_code_live')
        batch_op.drop_index('ix_stations_updated_at_id')
        batch_op.drop_index(batch_op.f('ix_stations_organization_id'))
        batch_op.drop_index('ix_stations_lat_lng')

    op.drop_table('stations')
