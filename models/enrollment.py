"""Tables of the enrollment feature: applications, memberships, member-number counters.

Invariants kept by the database:
- One pending application per worker and one per ID number: partial unique
  indexes ``uq_enrollment_applications_pending_worker`` on ``worker_id`` and
  ``uq_enrollment_applications_pending_id`` on ``id_number_hash``, both
  ``WHERE status = 'pending'``.
- One active membership per ID number and per worker: partial unique indexes
  ``uq_memberships_active_id`` / ``uq_memberships_active_worker``
  ``WHERE status = 'active'``; one membership per application (unique
  ``application_id``); ``member_no`` unique.
- Member numbers come from ``member_no_counters``, one row per
  (organization, year) bumped by ``UPDATE … SET last_value = last_value + 1``
  inside the approving transaction: the row lock serialises concurrent
  approvals, a rolled-back approval gives its number back, a committed one is
  never handed out again.

Personal data: the ID number and the phone are kept only as AES-GCM
ciphertexts (``*_enc``, key version in ``pii_key_version``) plus HMAC blind
indexes (``*_hash``) for uniqueness and look-ups.  The name stays readable
(the review queue searches it); erasure replaces it.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, unique_where
from models.organization import Organization
from models.user import StaffUser

APPLICATION_STATUSES = ("pending", "approved", "rejected", "withdrawn")
MEMBERSHIP_STATUSES = ("active", "suspended", "terminated")
OCCUPATIONS = ("courier", "food_delivery", "ride_hailing", "truck_driver", "other")
GENDERS = ("male", "female")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class EnrollmentApplication(db.Model):
    """A worker's application to join a union organization (入会申请).

    ``pending`` → ``approved`` (a ``Membership`` is created) | ``rejected``
    (``reject_reason`` shown to the worker) | ``withdrawn``.  Every
    application is kept: a rejected or withdrawn applicant applies again with
    a new row.
    """

    __tablename__ = "enrollment_applications"
    __table_args__ = (
        CheckConstraint(_in("status", APPLICATION_STATUSES), name="status"),
        CheckConstraint(_in("occupation", OCCUPATIONS), name="occupation"),
        CheckConstraint(_in("gender", GENDERS), name="gender"),
        unique_where("uq_enrollment_applications_pending_worker", "worker_id", where="status = 'pending'"),
        unique_where("uq_enrollment_applications_pending_id", "id_number_hash", where="status = 'pending'"),
        Index("ix_enrollment_applications_status_submitted", "status", "submitted_at"),
        Index("ix_enrollment_applications_submitted", "submitted_at"),
        Index("ix_enrollment_applications_org_status_submitted", "organization_id", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str] = mapped_column(String(8))
    id_number_enc: Mapped[str | None] = mapped_column(String(255))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_enc: Mapped[str | None] = mapped_column(String(255))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    pii_key_version: Mapped[int | None] = mapped_column(Integer)
    occupation: Mapped[str] = mapped_column(String(32))
    occupation_other: Mapped[str | None] = mapped_column(String(50))
    employer: Mapped[str | None] = mapped_column(String(100))
    work_region: Mapped[str | None] = mapped_column(String(100))
    consent_version: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    reviewer: Mapped[StaffUser | None] = relationship(lazy="select")
    membership: Mapped[Membership | None] = relationship(
        back_populates="application", uselist=False, lazy="select")


class Membership(db.Model):
    """A union member (会员), created by an approved application.

    ``member_no`` is ``<organization id, 4 digits>-<year>-<sequence, 6 digits>``,
    sequential per organization and year.  ``name``/``gender``/``occupation``
    are copied from the application so that the card and the counts by
    occupation, organization and year need no join; erasure blanks the name
    and the blind index but keeps the row, so those counts stay correct.
    """

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(_in("status", MEMBERSHIP_STATUSES), name="status"),
        CheckConstraint(_in("occupation", OCCUPATIONS), name="occupation"),
        unique_where("uq_memberships_active_id", "id_number_hash", where="status = 'active'"),
        unique_where("uq_memberships_active_worker", "worker_id", where="status = 'active'"),
        Index("ix_memberships_org_joined", "organization_id", "joined_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_no: Mapped[str] = mapped_column(String(32), unique=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("enrollment_applications.id"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(50))
    gender: Mapped[str | None] = mapped_column(String(8))
    occupation: Mapped[str] = mapped_column(String(32))
    id_number_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    year: Mapped[int] = mapped_column(Integer)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    application: Mapped[EnrollmentApplication] = relationship(back_populates="membership")


class MemberNoCounter(db.Model):
    """The last member number handed out per (organization, year)."""

    __tablename__ = "member_no_counters"
    __table_args__ = (
        CheckConstraint("last_value >= 0", name="last_value"),
    )

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, default=0)
