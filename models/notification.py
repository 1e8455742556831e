from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db

NOTIFICATION_STATUSES = ("pending", "sending", "sent", "refused", "failed", "cancelled")


class Notification(db.Model):
    """The outbox: a WeChat subscribe message owed to a worker.

    Written in the same transaction as the state change it tells of; sent
    later by ``flask notifications work``.  ``send_after`` delays a message
    (a reminder the day before); ``dedupe_key`` makes queuing idempotent.

    A sender claims a due row by setting ``claimed_until`` (a lease) and its
    own ``claim_token`` in a committed conditional UPDATE, moves it from
    ``pending`` to ``sending`` (again conditionally, and committed) just
    before calling WeChat, and records the outcome only where the token is
    still its own: several senders never send one message twice, and a
    message withdrawn before it is ``sending`` is never sent (withdrawing
    changes ``pending`` rows only).  ``attempts`` counts claims;
    ``last_errcode`` is WeChat's errcode of the last failure.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    page: Mapped[str | None] = mapped_column(String(255))
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_errcode: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
