"""The subscribe messages of a booking, queued through the outbox in the use case's
own transaction: the confirmation at once, a reminder the day before (withdrawn
when the booking ends early), a notice when staff cancel the slot."""
from __future__ import annotations

import datetime as dt

from models.legal_aid import LegalAidBooking, LegalAidSlot
from service.legal_aid.display import TOPICS, slot_location
from service.notifications import outbox


def _values(booking: LegalAidBooking, slot: LegalAidSlot) -> dict:
    """A booking's named values for its messages (docs/contract.md §8)."""
    return {"topic": TOPICS.get(booking.topic, booking.topic), "starts_at": slot.starts_at,
            "place": slot_location(slot) or slot.provider.address or "", "provider": slot.provider.name,
            "booking_id": booking.id}


def _reminder_key(booking_id: int) -> str:
    return f"booking-reminder:{booking_id}"


def queue_booked(booking: LegalAidBooking, slot: LegalAidSlot, now: dt.datetime) -> None:
    """Confirmation at once; reminder 24 h before (at once if that has passed; none if
    it would come after the start)."""
    values = _values(booking, slot)
    outbox.enqueue(booking.worker_id, "booking_confirmed", values, dedupe_key=f"booking-confirmed:{booking.id}")
    send_at = max(slot.starts_at - dt.timedelta(hours=24), now)
    if send_at < slot.starts_at:
        outbox.enqueue(booking.worker_id, "booking_reminder", values, send_after=send_at,
                       dedupe_key=_reminder_key(booking.id))


def withdraw_reminder(booking_id: int) -> None:
    """The booking ended before its reminder went out (cancelled, completed, no-show)."""
    outbox.cancel_pending(_reminder_key(booking_id))


def queue_slot_cancelled(booking: LegalAidBooking, slot: LegalAidSlot, reason: str) -> None:
    """Staff cancelled the slot: the worker reads the reason."""
    outbox.enqueue(booking.worker_id, "booking_cancelled", {**_values(booking, slot), "reason": reason},
                   dedupe_key=f"booking-cancelled:{booking.id}")
