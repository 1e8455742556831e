"""The subscribe messages of a booking, queued through the outbox in the use case's
own transaction: the confirmation at once, a reminder the day before (withdrawn
when the booking ends early), a notice when staff cancel the slot."""
from __future__ import annotations

import datetime as dt

from models.legal_aid import LegalAidBooking, LegalAidSlot
from service.legal_aid.display import TOPICS, slot_location
from service.notifications import outbox

BOOKING_PAGE = "pages/legal-aid/booking?id={id}"


def _data(booking: LegalAidBooking, slot: LegalAidSlot, third: str | None = None) -> dict:
    return {"thing1": TOPICS.get(booking.topic, booking.topic), "time2": slot.starts_at,
            "thing3": third if third is not None else (slot_location(slot) or slot.provider.address or ""),
            "thing4": slot.provider.name}


def _reminder_key(booking_id: int) -> str:
    return f"booking-reminder:{booking_id}"


def queue_booked(booking: LegalAidBooking, slot: LegalAidSlot, now: dt.datetime) -> None:
    """Confirmation at once; reminder 24 h before (at once if that has passed; none if
    it would come after the start)."""
    page = BOOKING_PAGE.format(id=booking.id)
    data = _data(booking, slot)
    outbox.enqueue(booking.worker_id, "booking_confirmed", data, page=page,
                   dedupe_key=f"booking-confirmed:{booking.id}")
    send_at = max(slot.starts_at - dt.timedelta(hours=24), now)
    if send_at < slot.starts_at:
        outbox.enqueue(booking.worker_id, "booking_reminder", data, send_after=send_at, page=page,
                       dedupe_key=_reminder_key(booking.id))


def withdraw_reminder(booking_id: int) -> None:
    """The booking ended before its reminder went out (cancelled, completed, no-show)."""
    outbox.cancel_pending(_reminder_key(booking_id))


def queue_slot_cancelled(booking: LegalAidBooking, slot: LegalAidSlot, reason: str) -> None:
    """Staff cancelled the slot: the worker reads the reason."""
    outbox.enqueue(booking.worker_id, "booking_cancelled", _data(booking, slot, third=reason),
                   page=BOOKING_PAGE.format(id=booking.id), dedupe_key=f"booking-cancelled:{booking.id}")
