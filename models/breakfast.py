"""Tables of the breakfast feature (环卫工人免费早餐).

- ``BreakfastPoint``: a place serving breakfast each morning, owned by a union
  organization, with a serving window (Asia/Shanghai), a daily quota and an
  optional geofence.  ``qr_generation`` is part of the signed QR scene, so
  bumping it invalidates the point's printed codes; ``version`` goes up with
  every change (check-ins judge a cached copy of the point against it).
- ``RosterEntry``: one eligible sanitation worker as imported by staff; the
  phone and ID number are encrypted with a blind index for look-ups; a
  mini-program user claims it (``worker_id``, unique: one user per entry).
- ``Checkin``: one breakfast served.  Unique per (roster entry, serving day),
  so one worker eats once a day whatever the concurrency.
- ``DailyCount``: the per-point-per-day counter incremented in the same
  transaction as the check-in; ``CHECK served <= quota`` keeps the quota.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, unique_where


class BreakfastPoint(db.Model):
    __tablename__ = "breakfast_points"
    __table_args__ = (
        CheckConstraint("daily_quota >= 1", name="quota_positive"),
        CheckConstraint("serving_end > serving_start", name="window_order"),
        CheckConstraint("geofence_m IS NULL OR geofence_m > 0", name="geofence_positive"),
        CheckConstraint("qr_generation >= 1", name="qr_generation_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(255))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    serving_start: Mapped[dt.time] = mapped_column(Time)
    serving_end: Mapped[dt.time] = mapped_column(Time)
    daily_quota: Mapped[int] = mapped_column(Integer)
    geofence_m: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    qr_generation: Mapped[int] = mapped_column(Integer, default=1)
    # Bumped by every change; a check-in writes only while its snapshot's version is current.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RosterEntry(db.Model):
    """An eligible worker on the breakfast roster.

    ``phone_hash`` is unique among entries that still hold a phone (erased
    entries keep none), so an import upserts by phone.  ``worker_id`` is
    unique: one mini-program user per entry and one entry per user.
    """

    __tablename__ = "breakfast_roster"
    __table_args__ = (
        unique_where("uq_breakfast_roster_phone_hash", "phone_hash", where="phone_hash IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(64))
    phone_enc: Mapped[str | None] = mapped_column(String(255))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    phone_masked: Mapped[str | None] = mapped_column(String(16))
    id_number_enc: Mapped[str | None] = mapped_column(String(255))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(24))
    employer: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), unique=True)
    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Checkin(db.Model):
    """One breakfast served: a roster entry at a point on a serving day.

    ``worker_id`` is the mini-program user who scanned (NULL once that user
    erased their data); counts go by ``roster_entry_id``, which stays.  Both
    are unique per serving day: one breakfast per roster entry, and one per
    person even when their phone changed and they moved to a new entry
    (NULLs never conflict).
    """

    __tablename__ = "breakfast_checkins"
    __table_args__ = (
        UniqueConstraint("roster_entry_id", "serving_date"),
        Index("ix_breakfast_checkins_point_day", "point_id", "serving_date"),
        Index("ix_breakfast_checkins_worker_day", "worker_id", "serving_date", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    roster_entry_id: Mapped[int] = mapped_column(ForeignKey("breakfast_roster.id"))
    point_id: Mapped[int] = mapped_column(ForeignKey("breakfast_points.id"))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    serving_date: Mapped[dt.date] = mapped_column(Date, index=True)
    checked_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    distance_m: Mapped[int | None] = mapped_column(Integer)


class DailyCount(db.Model):
    """Breakfasts served at one point on one serving day, never above its quota."""

    __tablename__ = "breakfast_daily_counts"
    __table_args__ = (
        CheckConstraint("served <= quota", name="within_quota"),
        CheckConstraint("served >= 0", name="served_nonnegative"),
    )

    point_id: Mapped[int] = mapped_column(ForeignKey("breakfast_points.id"), primary_key=True)
    serving_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    quota: Mapped[int] = mapped_column(Integer)
    served: Mapped[int] = mapped_column(Integer, default=0)
