"""legal aid: providers, weekly rules, slots, bookings

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-24 21:22:54.327034

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401

import models.base  # noqa: F401  (UTCDateTime)
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('legal_aid_providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('firm', sa.String(length=200), nullable=True),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('lawyer', 'volunteer_station')", name=op.f('ck_legal_aid_providers_kind')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_legal_aid_providers_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_aid_providers'))
    )
    with op.batch_alter_table('legal_aid_providers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_aid_providers_organization_id'), ['organization_id'], unique=False)

    op.create_table('legal_aid_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('weekdays', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('location', sa.String(length=255), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('online', 'offline')", name=op.f('ck_legal_aid_rules_mode')),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_legal_aid_rules_capacity')),
    sa.CheckConstraint('end_time > start_time', name=op.f('ck_legal_aid_rules_times')),
    sa.CheckConstraint('valid_until >= valid_from', name=op.f('ck_legal_aid_rules_dates')),
    sa.ForeignKeyConstraint(['provider_id'], ['legal_aid_providers.id'], name=op.f('fk_legal_aid_rules_provider_id_legal_aid_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_aid_rules'))
    )
    with op.batch_alter_table('legal_aid_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_aid_rules_provider_id'), ['provider_id'], unique=False)

    op.create_table('legal_aid_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('location', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('online', 'offline')", name=op.f('ck_legal_aid_slots_mode')),
    sa.CheckConstraint("status IN ('open', 'cancelled')", name=op.f('ck_legal_aid_slots_status')),
    sa.CheckConstraint('booked <= capacity', name=op.f('ck_legal_aid_slots_booked_le_capacity')),
    sa.CheckConstraint('booked >= 0', name=op.f('ck_legal_aid_slots_booked_ge_zero')),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_legal_aid_slots_capacity')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_legal_aid_slots_times')),
    sa.ForeignKeyConstraint(['provider_id'], ['legal_aid_providers.id'], name=op.f('fk_legal_aid_slots_provider_id_legal_aid_providers')),
    sa.ForeignKeyConstraint(['rule_id'], ['legal_aid_rules.id'], name=op.f('fk_legal_aid_slots_rule_id_legal_aid_rules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_aid_slots'))
    )
    with op.batch_alter_table('legal_aid_slots', schema=None) as batch_op:
        batch_op.create_index('ix_legal_aid_slots_provider_start', ['provider_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_aid_slots_rule_id'), ['rule_id'], unique=False)
        batch_op.create_index('ix_legal_aid_slots_status_start', ['status', 'starts_at'], unique=False)

    op.create_table('legal_aid_bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.Column('description_enc', sa.Text(), nullable=True),
    sa.Column('contact_phone_enc', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_by', sa.String(length=16), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('erased_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('booked', 'cancelled', 'completed', 'no_show')", name=op.f('ck_legal_aid_bookings_status')),
    sa.CheckConstraint("topic IN ('wage_arrears', 'labor_contract', 'work_injury', 'social_insurance', 'dismissal', 'other')", name=op.f('ck_legal_aid_bookings_topic')),
    sa.ForeignKeyConstraint(['handled_by_id'], ['staff_users.id'], name=op.f('fk_legal_aid_bookings_handled_by_id_staff_users')),
    sa.ForeignKeyConstraint(['slot_id'], ['legal_aid_slots.id'], name=op.f('fk_legal_aid_bookings_slot_id_legal_aid_slots')),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_legal_aid_bookings_worker_id_workers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_aid_bookings'))
    )
    with op.batch_alter_table('legal_aid_bookings', schema=None) as batch_op:
        batch_op.create_index('ix_legal_aid_bookings_slot_status', ['slot_id', 'status'], unique=False)
        batch_op.create_index('ix_legal_aid_bookings_worker_status', ['worker_id', 'status'], unique=False)
        batch_op.create_index('uq_legal_aid_bookings_active', ['slot_id', 'worker_id'], unique=True, sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))



def downgrade():
    with op.batch_alter_table('legal_aid_bookings', schema=None) as batch_op:
        batch_op.drop_index('uq_legal_aid_bookings_active', sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))
        batch_op.drop_index('ix_legal_aid_bookings_worker_status')
        batch_op.drop_index('ix_legal_aid_bookings_slot_status')

    op.drop_table('legal_aid_bookings')
    with op.batch_alter_table('legal_aid_slots', schema=None) as batch_op:
        batch_op.drop_index('ix_legal_aid_slots_status_start')
        batch_op.drop_index(batch_op.f('ix_legal_aid_slots_rule_id'))
        batch_op.drop_index('ix_legal_aid_slots_provider_start')

    op.drop_table('legal_aid_slots')
    with op.batch_alter_table('legal_aid_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_aid_rules_provider_id'))

    op.drop_table('legal_aid_rules')
    with op.batch_alter_table('legal_aid_providers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_aid_providers_organization_id'))

    op.drop_table('legal_aid_providers')
