"""Queue a WeChat subscribe message in the caller's transaction (the outbox).

``enqueue`` only adds a row to the session: it commits or rolls back with the
state change that owes the message, so the two can never disagree.  Sending
is ``flask notifications work``'s job.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from models import Notification, db
from service.common import clock
from service.notifications import templates


def enqueue(worker_id: int, kind: str, values: dict, *, send_after: dt.datetime | None = None,
            dedupe_key: str | None = None) -> Notification | None:
    """Owe ``worker_id`` a message of ``kind`` (a kind of ``NOTIFY_TEMPLATES``).

    ``values`` are the message's named values (``{"topic": "欠薪", "starts_at":
    <datetime>, "booking_id": 7}``): the configured template decides which goes
    into which keyword and the page the message opens; the sender trims and
    formats them per WeChat's rules.  With ``dedupe_key`` a second enqueue of
    the same key is a no-op.
    """
    if dedupe_key is not None:
        existing = db.session.scalar(select(Notification).where(Notification.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    now = clock.now()
    note = Notification(worker_id=worker_id, kind=kind, data=_jsonable(values), page=templates.page_for(kind, values),
                        dedupe_key=dedupe_key, status="pending", attempts=0,
                        next_attempt_at=send_after or now, created_at=now)
    db.session.add(note)
    return note


def cancel_pending(dedupe_key: str) -> None:
    """Withdraw a message not yet sent (e.g. the reminder of a cancelled booking).

    One conditional UPDATE of a ``pending`` row, claimed by a sender or not: the
    sender checks the row is still ``pending`` as it starts sending, so a
    withdrawn message is never sent, and a message already ``sending`` or
    ``sent`` is never marked withdrawn."""
    db.session.execute(
        update(Notification).where(Notification.dedupe_key == dedupe_key, Notification.status == "pending")
        .values(status="cancelled", last_error="withdrawn")
        .execution_options(synchronize_session=False))


def _jsonable(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dt.datetime):
            out[key] = {"datetime": value.isoformat()}
        elif isinstance(value, dt.date):
            out[key] = {"date": value.isoformat()}
        else:
            out[key] = value
    return out


def erase_personal_data(worker_id: int) -> None:
    """``DELETE /me``: messages not yet sent are cancelled and every message's
    data (names, reasons, places) is blanked; the rows stay for the counts."""
    db.session.execute(
        update(Notification).where(Notification.worker_id == worker_id, Notification.status == "pending")
        .values(status="cancelled", last_error="worker erased")
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(Notification).where(Notification.worker_id == worker_id).values(data={})
        .execution_options(synchronize_session=False))
