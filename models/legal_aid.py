"""Tables of the legal_aid feature: providers, weekly rules, slots and bookings.

Invariants kept by the database:
- ``legal_aid_slots.booked`` never exceeds ``capacity`` (CHECK ``booked_le_capacity``),
  never goes below zero; the seat count only moves through conditional
  updates in the services (``booked < capacity`` / ``booked > 0``).
- One active booking per worker and slot: partial unique index
  ``uq_legal_aid_bookings_active`` on ``(slot_id, worker_id) WHERE status = 'booked'``.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import JSONType, UTCDateTime, db, unique_where
from models.organization import Organization

PROVIDER_KINDS = ("lawyer", "volunteer_station")
SLOT_MODES = ("online", "offline")
SLOT_STATUSES = ("open", "cancelled")
BOOKING_STATUSES = ("booked", "cancelled", "completed", "no_show")
BOOKING_TOPICS = ("wage_arrears", "labor_contract", "work_injury", "social_insurance", "dismissal", "other")
BOOKING_OUTCOMES = ("advised", "referred_to_legal_aid_case", "mediation", "other")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class LegalAidProvider(db.Model):
    """A lawyer (with the firm under the federation's service agreement) or a
    volunteer legal service station (with its address), attached to a union
    organization whose legal-aid staff keep its schedule."""

    __tablename__ = "legal_aid_providers"
    __table_args__ = (
        CheckConstraint(_in("kind", PROVIDER_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    firm: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)


class LegalAidRule(db.Model):
    """A weekly schedule (weekdays × start–end, Asia/Shanghai wall-clock times)
    between two dates; its slots are generated rows of ``legal_aid_slots``."""

    __tablename__ = "legal_aid_rules"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("end_time > start_time", name="times"),
        CheckConstraint("valid_until >= valid_from", name="dates"),
        CheckConstraint(_in("mode", SLOT_MODES), name="mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("legal_aid_providers.id"), index=True)
    weekdays: Mapped[list] = mapped_column(JSONType, default=list)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    capacity: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(String(255))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    provider: Mapped[LegalAidProvider] = relationship(lazy="joined", innerjoin=True)


class LegalAidSlot(db.Model):
    """A consultation time of one provider with ``capacity`` seats.

    Slots of one provider never overlap (checked by the services under a lock
    on the provider row).  ``status`` is ``open`` or ``cancelled`` (by staff).
    """

    __tablename__ = "legal_aid_slots"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("booked >= 0", name="booked_ge_zero"),
        CheckConstraint("booked <= capacity", name="booked_le_capacity"),
        CheckConstraint("ends_at > starts_at", name="times"),
        CheckConstraint(_in("mode", SLOT_MODES), name="mode"),
        CheckConstraint(_in("status", SLOT_STATUSES), name="status"),
        Index("ix_legal_aid_slots_provider_start", "provider_id", "starts_at"),
        Index("ix_legal_aid_slots_status_start", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("legal_aid_providers.id"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("legal_aid_rules.id"), index=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    mode: Mapped[str] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="open")
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    provider: Mapped[LegalAidProvider] = relationship(lazy="joined", innerjoin=True)


class LegalAidBooking(db.Model):
    """A worker's booking of one seat of a slot.

    ``description_enc`` and ``contact_phone_enc`` are encrypted (PII);
    ``notes`` (the consultation record) is read only by legal-aid staff and
    admins of the provider's organization.  A PIPL erasure empties the
    personal fields and keeps topic/status/outcome for the counts.
    """

    __tablename__ = "legal_aid_bookings"
    __table_args__ = (
        CheckConstraint(_in("status", BOOKING_STATUSES), name="status"),
        CheckConstraint(_in("topic", BOOKING_TOPICS), name="topic"),
        unique_where("uq_legal_aid_bookings_active", "slot_id", "worker_id", where="status = 'booked'"),
        Index("ix_legal_aid_bookings_worker_status", "worker_id", "status"),
        Index("ix_legal_aid_bookings_slot_status", "slot_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("legal_aid_slots.id"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    topic: Mapped[str] = mapped_column(String(32))
    description_enc: Mapped[str | None] = mapped_column(Text)
    contact_phone_enc: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="booked")
    outcome: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    slot: Mapped[LegalAidSlot] = relationship(lazy="joined", innerjoin=True)
