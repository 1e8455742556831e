"""enrollment: applications, memberships, member-number counters; outbox claim columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:24:30.577300

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401

import models.base  # noqa: F401  (UTCDateTime)


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('enrollment_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('gender', sa.String(length=8), nullable=False),
    sa.Column('id_number_enc', sa.String(length=255), nullable=True),
    sa.Column('id_number_hash', sa.String(length=64), nullable=True),
    sa.Column('phone_enc', sa.String(length=255), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('pii_key_version', sa.Integer(), nullable=True),
    sa.Column('occupation', sa.String(length=32), nullable=False),
    sa.Column('occupation_other', sa.String(length=50), nullable=True),
    sa.Column('employer', sa.String(length=100), nullable=True),
    sa.Column('work_region', sa.String(length=100), nullable=True),
    sa.Column('consent_version', sa.String(length=32), nullable=False),
    sa.Column('consented_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reject_reason', sa.String(length=200), nullable=True),
    sa.Column('withdrawn_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('erased_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("gender IN ('male', 'female')", name=op.f('ck_enrollment_applications_gender')),
    sa.CheckConstraint("occupation IN ('courier', 'food_delivery', 'ride_hailing', 'truck_driver', 'other')", name=op.f('ck_enrollment_applications_occupation')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_enrollment_applications_status')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_enrollment_applications_organization_id_organizations')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['staff_users.id'], name=op.f('fk_enrollment_applications_reviewer_id_staff_users')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_enrollment_applications_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_applications'))
    )
    with op.batch_alter_table('enrollment_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollment_applications_id_number_hash'), ['id_number_hash'], unique=False)
        batch_op.create_index('ix_enrollment_applications_org_status_submitted', ['organization_id', 'status', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollment_applications_phone_hash'), ['phone_hash'], unique=False)
        batch_op.create_index('ix_enrollment_applications_status_submitted', ['status', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollment_applications_worker_id'), ['worker_id'], unique=False)
        batch_op.create_index('uq_enrollment_applications_pending_id', ['id_number_hash'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index('uq_enrollment_applications_pending_worker', ['worker_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    op.create_table('member_no_counters',
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.CheckConstraint('last_value >= 0', name=op.f('ck_member_no_counters_last_value')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_member_no_counters_organization_id_organizations')),
    sa.PrimaryKeyConstraint('organization_id', 'year', name=op.f('pk_member_no_counters'))
    )
    op.create_table('memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_no', sa.String(length=32), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('gender', sa.String(length=8), nullable=True),
    sa.Column('occupation', sa.String(length=32), nullable=False),
    sa.Column('id_number_hash', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('joined_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('erased_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("occupation IN ('courier', 'food_delivery', 'ride_hailing', 'truck_driver', 'other')", name=op.f('ck_memberships_occupation')),
    sa.CheckConstraint("status IN ('active', 'suspended', 'terminated')", name=op.f('ck_memberships_status')),
    sa.ForeignKeyConstraint(['application_id'], ['enrollment_applications.id'], name=op.f('fk_memberships_application_id_enrollment_applications')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_memberships_organization_id_organizations')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_memberships_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('application_id', name=op.f('uq_memberships_application_id')),
    sa.UniqueConstraint('member_no', name=op.f('uq_memberships_member_no'))
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_joined_at'), ['joined_at'], unique=False)
        batch_op.create_index('ix_memberships_org_joined', ['organization_id', 'joined_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_worker_id'), ['worker_id'], unique=False)
        batch_op.create_index('uq_memberships_active_id', ['id_number_hash'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.create_index('uq_memberships_active_worker', ['worker_id'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('last_errcode', sa.Integer(), nullable=True))



def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('last_errcode')
        batch_op.drop_column('claim_token')

    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index('uq_memberships_active_worker', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index('uq_memberships_active_id', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index(batch_op.f('ix_memberships_worker_id'))
        batch_op.drop_index('ix_memberships_org_joined')
        batch_op.drop_index(batch_op.f('ix_memberships_joined_at'))

    op.drop_table('memberships')
    op.drop_table('member_no_counters')
    with op.batch_alter_table('enrollment_applications', schema=None) as batch_op:
        batch_op.drop_index('uq_enrollment_applications_pending_worker', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index('uq_enrollment_applications_pending_id', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_enrollment_applications_worker_id'))
        batch_op.drop_index('ix_enrollment_applications_status_submitted')
        batch_op.drop_index(batch_op.f('ix_enrollment_applications_phone_hash'))
        batch_op.drop_index('ix_enrollment_applications_org_status_submitted')
        batch_op.drop_index(batch_op.f('ix_enrollment_applications_id_number_hash'))

    op.drop_table('enrollment_applications')
