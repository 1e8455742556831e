from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db

STAFF_ROLES = ("admin", "enrollment_reviewer", "legal_aid_staff", "station_manager", "breakfast_manager",
               "rights_staff")


class Worker(db.Model):
    """A mini-program user, known by the WeChat ``openid``.

    The phone is kept encrypted (``phone_enc``) with a keyed hash
    (``phone_hash``) for look-ups; ``erased_at`` marks a PIPL deletion, after
    which the row stays only so that counts and foreign keys hold.
    """

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_enc: Mapped[str | None] = mapped_column(String(255))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StaffUser(db.Model):
    """A union staff member, signed in with a password.

    ``worker_id`` is the staff member's own WeChat identity: the mini-program
    account they linked with a one-time binding code (docs/contract.md §2), so
    that subscribe messages meant for staff (a collective wage-arrears case)
    reach them.  One staff account per worker account (unique); deleting the
    worker row unlinks it (``ON DELETE SET NULL``), and a worker's erasure
    unlinks it too.
    """

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id", ondelete="SET NULL"), unique=True)
    wechat_bound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[StaffRole]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", lazy="selectin")


class StaffRole(db.Model):
    """One role of a staff member over an organization subtree.

    ``organization_id`` NULL means the whole federation.
    """

    __tablename__ = "staff_roles"
    __table_args__ = (UniqueConstraint("staff_id", "role", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))

    staff: Mapped[StaffUser] = relationship(back_populates="roles")
