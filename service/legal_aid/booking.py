"""The worker's side of legal-aid consultation booking (docs/contract.md §4):
open slots, booking a seat, their own bookings, cancelling, and the worker's
personal data (PIPL access and erasure).

Rules and error cases:
- Never more bookings than seats: the seat count moves only through
  ``UPDATE … SET booked = booked + 1 WHERE booked < capacity`` (rowcount
  checked; 409 ``slot_full``), backed by CHECK ``booked <= capacity``.  One
  active booking per worker and slot by a partial unique index (409
  ``already_booked``).  At most ``BOOKING_MAX_ACTIVE`` active (booked, future)
  bookings per worker (409 ``too_many_active_bookings``), serialised by a lock
  on the worker row.  A slot starting within ``BOOKING_MIN_LEAD_MINUTES`` or
  more than ``BOOKING_WINDOW_DAYS`` ahead: 409 ``outside_booking_window``; one
  already begun: 409 ``slot_started``; a cancelled or unknown slot: 404.
- A worker cancels until ``BOOKING_CANCEL_CUTOFF_MINUTES`` before the start
  (409 ``cancel_window_closed``); only a ``booked`` booking can be cancelled
  (409 ``invalid_state``).  Cancelling frees the seat and withdraws the
  reminder in the same transaction.
- Messages go through the outbox in the same transaction: confirmation at
  once, a reminder the day before.

Use cases return model objects; the output schemas shape them.
"""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from models import Worker, db
from models.legal_aid import LegalAidBooking, LegalAidProvider, LegalAidSlot
from service.common import clock, pii
from service.common.pagination import paginate
from service.common.transaction import transactional
from service.legal_aid import display, messages, store
from service.legal_aid.errors import (
    AlreadyBooked,
    BookingNotFound,
    CancelWindowClosed,
    NotCancellable,
    OutsideBookingWindow,
    SlotFull,
    SlotStarted,
    SlotUnavailable,
    TooManyActiveBookings,
)


class Window(NamedTuple):
    """When a slot may be booked and a booking cancelled (from config)."""

    ahead: dt.timedelta  # the furthest start that can be booked
    lead: dt.timedelta  # the nearest start that can be booked
    cutoff: dt.timedelta  # cancelling closes this long before the start


def window() -> Window:
    cfg = current_app.config
    return Window(ahead=dt.timedelta(days=cfg["BOOKING_WINDOW_DAYS"]),
                  lead=dt.timedelta(minutes=cfg["BOOKING_MIN_LEAD_MINUTES"]),
                  cutoff=dt.timedelta(minutes=cfg["BOOKING_CANCEL_CUTOFF_MINUTES"]))


def bookable(slot: LegalAidSlot, now: dt.datetime) -> bool:
    """Open, of an active provider, a seat left, and its start within the booking window."""
    w = window()
    return (slot.status == "open" and slot.provider.active and slot.booked < slot.capacity
            and now + w.lead <= slot.starts_at <= now + w.ahead)


def can_cancel(booking: LegalAidBooking, now: dt.datetime) -> bool:
    """Booked, and the start still at least the cut-off away."""
    return booking.status == "booked" and booking.slot.starts_at - now >= window().cutoff


def list_open_slots(args: dict) -> dict:
    """Future, open slots of active providers with a seat left, earliest first
    (the worker's hot query: index ``(status, starts_at)``)."""
    now = clock.now()
    stmt = (select(LegalAidSlot).join(LegalAidSlot.provider).join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidSlot.provider).contains_eager(LegalAidProvider.organization))
            .where(LegalAidSlot.status == "open", LegalAidSlot.starts_at > now,
                   LegalAidSlot.booked < LegalAidSlot.capacity, LegalAidProvider.active.is_(True)))
    stmt = store.slot_filters(stmt, args).order_by(LegalAidSlot.starts_at, LegalAidSlot.id)
    return paginate(stmt, args["page"], args["per_page"])


@transactional
def book_slot(worker: Worker, data: dict) -> LegalAidBooking:
    """Book one seat.  Checks, in order: 404 unknown/cancelled slot (or inactive
    provider), 409 ``slot_started``, ``outside_booking_window``,
    ``already_booked``, ``too_many_active_bookings``, ``slot_full``."""
    now = clock.now()
    slot = store.get(LegalAidSlot, data["slot_id"])
    if slot is None or slot.status != "open" or not slot.provider.active:
        raise SlotUnavailable()
    w = window()
    if slot.starts_at <= now:
        raise SlotStarted()
    if slot.starts_at > now + w.ahead:
        raise OutsideBookingWindow(f"仅可预约 {w.ahead.days} 天内的咨询时段")
    if slot.starts_at < now + w.lead:
        minutes = int(w.lead.total_seconds() // 60)
        raise OutsideBookingWindow(f"距开始不足 {minutes} 分钟的时段不能预约，请选择其他时段")
    # Serialise this worker's bookings (double taps, the active-booking cap).
    store.lock_row(Worker, worker.id)
    if db.session.scalar(select(LegalAidBooking.id).where(
            LegalAidBooking.slot_id == slot.id, LegalAidBooking.worker_id == worker.id,
            LegalAidBooking.status == "booked")) is not None:
        raise AlreadyBooked()
    limit = current_app.config["BOOKING_MAX_ACTIVE"]
    active = db.session.scalar(
        select(func.count(LegalAidBooking.id)).join(LegalAidSlot, LegalAidSlot.id == LegalAidBooking.slot_id)
        .where(LegalAidBooking.worker_id == worker.id, LegalAidBooking.status == "booked",
               LegalAidSlot.starts_at > now))
    if active >= limit:
        raise TooManyActiveBookings(f"您已有 {limit} 个待咨询的预约，请先完成或取消后再预约")
    taken = db.session.execute(
        update(LegalAidSlot)
        .where(LegalAidSlot.id == slot.id, LegalAidSlot.status == "open",
               LegalAidSlot.booked < LegalAidSlot.capacity)
        .values(booked=LegalAidSlot.booked + 1)
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        status = db.session.scalar(select(LegalAidSlot.status).where(LegalAidSlot.id == slot.id))
        if status != "open":
            raise SlotUnavailable()
        raise SlotFull()
    booking = LegalAidBooking(
        slot=slot, worker_id=worker.id, topic=data["topic"],
        description_enc=pii.encrypt(data["description"], display.DESCRIPTION),
        contact_phone_enc=pii.encrypt(data.get("contact_phone") or None, display.CONTACT_PHONE),
        status="booked", created_at=now, updated_at=now)
    db.session.add(booking)
    try:
        db.session.flush()
    except IntegrityError:
        raise AlreadyBooked() from None
    messages.queue_booked(booking, slot, now)
    db.session.refresh(slot)  # its seat count moved in SQL
    db.session.commit()
    return booking


def get_my_booking(worker: Worker, booking_id: int) -> LegalAidBooking:
    """The worker's own booking (404 for anyone else's)."""
    booking = store.get(LegalAidBooking, booking_id)
    if booking is None or booking.worker_id != worker.id:
        raise BookingNotFound()
    return booking


def my_bookings(worker: Worker, args: dict) -> dict:
    stmt = (select(LegalAidBooking).join(LegalAidBooking.slot).join(LegalAidSlot.provider)
            .join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidBooking.slot).contains_eager(LegalAidSlot.provider)
                     .contains_eager(LegalAidProvider.organization))
            .where(LegalAidBooking.worker_id == worker.id)
            .order_by(LegalAidSlot.starts_at.desc(), LegalAidBooking.id.desc()))
    if args.get("status"):
        stmt = stmt.where(LegalAidBooking.status == args["status"])
    return paginate(stmt, args["page"], args["per_page"])


def _release(booking_id: int, slot_id: int, values: dict) -> bool:
    """booked → cancelled and the seat back, if still booked.  Caller holds the slot lock."""
    done = db.session.execute(
        update(LegalAidBooking).where(LegalAidBooking.id == booking_id, LegalAidBooking.status == "booked")
        .values(status="cancelled", **values).execution_options(synchronize_session=False)).rowcount
    if done:
        db.session.execute(
            update(LegalAidSlot).where(LegalAidSlot.id == slot_id, LegalAidSlot.booked > 0)
            .values(booked=LegalAidSlot.booked - 1).execution_options(synchronize_session=False))
        messages.withdraw_reminder(booking_id)
    store.expire(LegalAidBooking, LegalAidSlot)
    return bool(done)


@transactional
def cancel_my_booking(worker: Worker, booking_id: int) -> LegalAidBooking:
    """The owner cancels: ``booked`` only (409 ``invalid_state``), until the
    cut-off before the start (409 ``cancel_window_closed``); the seat is freed
    and the reminder withdrawn in the same transaction."""
    booking = get_my_booking(worker, booking_id)
    if booking.status != "booked":
        raise NotCancellable()
    now = clock.now()
    cutoff = window().cutoff
    if booking.slot.starts_at - now < cutoff:
        minutes = int(cutoff.total_seconds() // 60)
        label = f"{minutes // 60} 小时" if minutes % 60 == 0 else f"{minutes} 分钟"
        raise CancelWindowClosed(f"距咨询开始已不足 {label}，无法取消预约")
    store.lock_row(LegalAidSlot, booking.slot_id)
    if not _release(booking.id, booking.slot_id, {"cancelled_by": "worker", "cancelled_at": now,
                                                  "updated_at": now}):
        raise NotCancellable()
    db.session.refresh(booking)
    db.session.commit()
    return booking


# --- PIPL: the worker's data and its erasure ------------------------------------------------

def personal_data(worker_id: int) -> list[dict]:
    """The worker's bookings, with their description and contact phone decrypted."""
    bookings = db.session.scalars(select(LegalAidBooking).where(LegalAidBooking.worker_id == worker_id)
                                  .order_by(LegalAidBooking.id))
    return [{"id": b.id, "status": b.status, "topic": b.topic, "topic_label": display.TOPICS.get(b.topic),
             "description": display.description(b), "contact_phone": display.contact_phone(b),
             "provider": b.slot.provider.name, "mode": b.slot.mode, "location": display.slot_location(b.slot),
             "starts_at": clock.isoformat(b.slot.starts_at), "ends_at": clock.isoformat(b.slot.ends_at),
             "outcome": b.outcome, "cancelled_by": b.cancelled_by,
             "created_at": clock.isoformat(b.created_at), "cancelled_at": clock.isoformat(b.cancelled_at)}
            for b in bookings]


def erase_personal_data(worker_id: int) -> None:
    """PIPL deletion: future bookings are cancelled (seats freed, reminders
    withdrawn); description, contact phone and notes of every booking are
    erased; topic, status and outcome stay for the counts."""
    now = clock.now()
    upcoming = db.session.execute(
        select(LegalAidBooking.id, LegalAidBooking.slot_id)
        .join(LegalAidSlot, LegalAidSlot.id == LegalAidBooking.slot_id)
        .where(LegalAidBooking.worker_id == worker_id, LegalAidBooking.status == "booked",
               LegalAidSlot.starts_at > now)).all()
    for booking_id, slot_id in upcoming:
        store.lock_row(LegalAidSlot, slot_id)
        _release(booking_id, slot_id, {"cancelled_by": "worker", "cancelled_at": now, "updated_at": now})
    db.session.execute(
        update(LegalAidBooking).where(LegalAidBooking.worker_id == worker_id)
        .values(description_enc=None, contact_phone_enc=None, notes=None, erased_at=now)
        .execution_options(synchronize_session=False))
    store.expire(LegalAidBooking, LegalAidSlot)
