"""Send the outbox: WeChat subscribe messages owed to workers (docs/contract.md §8).

One pass (``send_due``) claims due rows in batches and sends each:

1. **Claim** — in a short transaction, pick rows ``status = 'pending'``,
   ``next_attempt_at <= now`` and not under a live lease (``claimed_until``),
   ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; then a conditional UPDATE sets
   this sender's ``claim_token``, a lease and ``attempts + 1`` only where the
   row is still unclaimed, and the rows that carry our token are ours.  The
   claim is committed *before* WeChat is called, so several senders (threads,
   processes, hosts) never send one message twice.
2. **Start** — just before WeChat is called, ``pending`` → ``sending`` where the
   claim is still ours, committed.  A message withdrawn meanwhile
   (``outbox.cancel_pending`` changes ``pending`` rows only) is not sent; one
   already ``sending`` is never marked withdrawn.
3. **Send** through ``wechat_gateway.send_subscribe_message`` with the
   template configured for the kind, each named value put in its keyword and
   trimmed and formatted per WeChat's keyword types (``templates.render``).
4. **Record** the outcome where the claim token is still ours and the row is
   ``sending``: ``sent``;
   ``refused`` on 43101 (final); ``failed`` on 47003 or another final error
   (logged); a transient error (``WeChatError.retryable``) puts the row back
   to ``pending`` with exponential backoff until ``NOTIFY_MAX_ATTEMPTS``, then
   ``failed``.  A worker who erased their data gets nothing: ``cancelled``.

Settings: ``NOTIFY_TEMPLATES``, ``NOTIFY_MAX_ATTEMPTS``, and optionally
``NOTIFY_BATCH_SIZE`` (20), ``NOTIFY_LEASE_SECONDS`` (300),
``NOTIFY_BACKOFF_SECONDS`` (30), ``NOTIFY_BACKOFF_MAX_SECONDS`` (3600).
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import and_, or_, select, update

from models import Notification, Worker, db
from service.common import clock
from service.notifications import templates
from service.wechat_gateway import wechat_gateway
from wechat.errors import WeChatError, WeChatUserRefused

log = logging.getLogger(__name__)

# --- one pass ---------------------------------------------------------------------

@dataclass
class PassResult:
    sent: int = 0
    retried: int = 0
    refused: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0

    def as_dict(self) -> dict:
        return {"sent": self.sent, "retried": self.retried, "refused": self.refused,
                "failed": self.failed, "cancelled": self.cancelled, "released": self.released}

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.refused + self.failed + self.cancelled


def backoff_seconds(attempts: int) -> int:
    """Delay before the next try after ``attempts`` failed ones: base·2^(n-1), capped."""
    base = int(current_app.config["NOTIFY_BACKOFF_SECONDS"])
    cap = int(current_app.config["NOTIFY_BACKOFF_MAX_SECONDS"])
    return max(1, min(cap, base * 2 ** max(0, attempts - 1)))


def claim(batch_size: int) -> tuple[str, list[int]]:
    """Claim up to ``batch_size`` due messages for this sender and commit the claim.

    Due: ``pending`` with ``next_attempt_at`` passed, or ``sending`` left behind by
    a sender that died while WeChat answered (its lease over: the message may have
    gone out, and is sent again rather than lost).  Neither under a live lease."""
    now = clock.now()
    lease = now + dt.timedelta(seconds=int(current_app.config["NOTIFY_LEASE_SECONDS"]))
    token = secrets.token_hex(16)
    N = Notification
    free = or_(N.claimed_until.is_(None), N.claimed_until <= now)
    waiting = or_(and_(N.status == "pending", N.next_attempt_at <= now), N.status == "sending")
    due = select(N.id).where(waiting, free).order_by(N.next_attempt_at, N.id).limit(batch_size)
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    try:
        ids = list(db.session.scalars(due))
        if not ids:
            db.session.rollback()
            return token, []
        db.session.execute(
            update(N).where(N.id.in_(ids), N.status.in_(("pending", "sending")), free)
            .values(status="pending", claim_token=token, claimed_until=lease, attempts=N.attempts + 1)
            .execution_options(synchronize_session=False))
        mine = list(db.session.scalars(select(N.id).where(N.id.in_(ids), N.claim_token == token).order_by(N.id)))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return token, mine


def _finish(note_id: int, token: str, status_now: str = "pending", **values) -> bool:
    """Record an outcome only if our claim still holds and the row is still ``status_now``; commit."""
    N = Notification
    values.setdefault("claimed_until", None)
    values.setdefault("claim_token", None)
    result = db.session.execute(
        update(N).where(N.id == note_id, N.claim_token == token, N.status == status_now).values(**values)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount != 1:
        log.warning("notification %s: claim lost before its outcome was recorded", note_id)
        return False
    return True


def _start_sending(note_id: int, token: str) -> bool:
    """``pending`` → ``sending`` under our claim, committed before WeChat is called.
    False when the message was withdrawn meanwhile (or the claim lost): it is not sent."""
    N = Notification
    result = db.session.execute(
        update(N).where(N.id == note_id, N.claim_token == token, N.status == "pending").values(status="sending")
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def release(note_ids: list[int], token: str) -> int:
    """Give back claimed, unsent messages (a sender stopping half-way through a batch)."""
    if not note_ids:
        return 0
    N = Notification
    result = db.session.execute(
        update(N).where(N.id.in_(note_ids), N.claim_token == token, N.status == "pending")
        .values(claim_token=None, claimed_until=None, attempts=N.attempts - 1)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount or 0


def send_one(note_id: int, token: str, result: PassResult) -> None:
    """Send one claimed message and record what came of it."""
    row = db.session.execute(
        select(Notification.kind, Notification.data, Notification.page, Notification.attempts,
               Worker.openid, Worker.erased_at)
        .join(Worker, Worker.id == Notification.worker_id)
        .where(Notification.id == note_id, Notification.claim_token == token,
               Notification.status == "pending")).first()
    db.session.rollback()  # end the read; never hold a transaction while WeChat answers
    if row is None:
        return
    kind, data, page, attempts, openid, erased_at = row
    now = clock.now()
    max_attempts = int(current_app.config["NOTIFY_MAX_ATTEMPTS"])
    if erased_at is not None or not openid:
        if _finish(note_id, token, status="cancelled", last_error="worker erased or without openid"):
            result.cancelled += 1
        return
    message = templates.render(kind, data or {})
    if message is None:
        log.error("notification %s: no template configured for kind %s", note_id, kind)
        if _finish(note_id, token, status="failed", last_error=f"no template for kind {kind}"):
            result.failed += 1
        return
    if attempts > max_attempts:
        if _finish(note_id, token, status="failed", last_error="too many attempts"):
            result.failed += 1
        return
    if not _start_sending(note_id, token):
        log.info("notification %s (%s) withdrawn before it was sent", note_id, kind)
        return
    try:
        wechat_gateway.send_subscribe_message(openid, *message, page=page)
    except WeChatUserRefused as err:
        if _finish(note_id, token, "sending", status="refused", last_errcode=err.errcode, last_error=err.code):
            result.refused += 1
        return
    except WeChatError as err:
        if err.retryable and attempts < max_attempts:
            delay = backoff_seconds(attempts)
            if _finish(note_id, token, "sending", status="pending",
                       next_attempt_at=clock.now() + dt.timedelta(seconds=delay),
                       last_errcode=err.errcode, last_error=f"{err.code}: {err.errmsg}"[:500]):
                result.retried += 1
            log.info("notification %s (%s): %s, retry %d in %ds", note_id, kind, err.code, attempts, delay)
        else:
            if _finish(note_id, token, "sending", status="failed", last_errcode=err.errcode,
                       last_error=f"{err.code}: {err.errmsg}"[:500]):
                result.failed += 1
            log.warning("notification %s (%s) failed for good after %d attempt(s): %s errcode=%s",
                        note_id, kind, attempts, err.code, err.errcode)
        return
    except Exception as err:  # Redis down while fetching the token, a bug: retry later
        db.session.rollback()
        delay = backoff_seconds(attempts)
        final = attempts >= max_attempts
        values = {"last_error": f"{type(err).__name__}"[:500], "status": "failed" if final else "pending"}
        if not final:
            values["next_attempt_at"] = clock.now() + dt.timedelta(seconds=delay)
        if _finish(note_id, token, "sending", **values):
            if final:
                result.failed += 1
            else:
                result.retried += 1
        log.exception("notification %s (%s): unexpected error while sending", note_id, kind)
        return
    if _finish(note_id, token, "sending", status="sent", sent_at=now, last_error=None, last_errcode=None):
        result.sent += 1


def send_due(batch_size: int | None = None, stop: threading.Event | None = None) -> PassResult:
    """One pass: send every message due now (batch after batch), then return.

    ``stop`` (set by a signal) ends the pass after the current message; the
    rest of the claimed batch is released at once for other senders.
    """
    batch_size = int(batch_size or current_app.config["NOTIFY_BATCH_SIZE"])
    result = PassResult()
    while not (stop is not None and stop.is_set()):
        token, ids = claim(batch_size)
        if not ids:
            break
        for index, note_id in enumerate(ids):
            if stop is not None and stop.is_set():
                result.released += release(ids[index:], token)
                break
            send_one(note_id, token, result)
    return result
