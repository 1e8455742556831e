"""Who the lawyer calls about a booking (docs/contract.md §4): the worker's name
and a phone, in full, for legal-aid staff and admins of the booking's
organization only.

- The name is the one on the worker's latest union application, else on the
  breakfast roster entry they claimed; None when the service knows none (or
  the worker erased their data).
- The phone is the booking's ``contact_phone``, else the phone the worker
  bound in the mini-program; None when neither is left.

The use cases that serve a list or a sheet with contacts write one audit row
for it, naming how many workers' contacts it disclosed (``disclosed``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import select

from models import Worker, db
from models.breakfast import RosterEntry
from models.enrollment import EnrollmentApplication
from models.legal_aid import LegalAidBooking
from service.common import pii
from service.legal_aid import display

WORKER_PHONE = "worker.phone"  # the encryption context of the worker's bound phone


class WorkerContact(NamedTuple):
    name: str | None
    phone: str | None


def _names(worker_ids: set[int]) -> dict[int, str]:
    """The latest union application's name, else the claimed roster entry's (erased rows left out)."""
    names: dict[int, str] = dict(db.session.execute(
        select(RosterEntry.worker_id, RosterEntry.name)
        .where(RosterEntry.worker_id.in_(worker_ids), RosterEntry.erased_at.is_(None),
               RosterEntry.name.is_not(None))).tuples().all())
    applications = db.session.execute(
        select(EnrollmentApplication.worker_id, EnrollmentApplication.name)
        .where(EnrollmentApplication.worker_id.in_(worker_ids), EnrollmentApplication.erased_at.is_(None))
        .order_by(EnrollmentApplication.submitted_at, EnrollmentApplication.id)).tuples().all()
    for worker_id, name in applications:  # oldest first: the latest one wins
        names[worker_id] = name
    return names


def contacts_of(bookings: Iterable[LegalAidBooking]) -> dict[int, WorkerContact]:
    """Each booking's ``WorkerContact``, by booking id (two queries for any number of bookings)."""
    bookings = list(bookings)
    worker_ids = {b.worker_id for b in bookings}
    if not worker_ids:
        return {}
    names = _names(worker_ids)
    bound = dict(db.session.execute(select(Worker.id, Worker.phone_enc)
                                    .where(Worker.id.in_(worker_ids))).tuples().all())
    return {b.id: WorkerContact(names.get(b.worker_id),
                                display.contact_phone(b) or pii.decrypt_optional(bound.get(b.worker_id),
                                                                                 WORKER_PHONE))
            for b in bookings}


def attach(bookings: Iterable[LegalAidBooking]) -> int:
    """Set ``worker_contact`` on each booking (the staff output schema writes it as
    ``worker``); returns how many workers' contacts that discloses."""
    bookings = list(bookings)
    contacts = contacts_of(bookings)
    for booking in bookings:
        booking.worker_contact = contacts[booking.id]
    return disclosed(bookings, contacts)


def disclosed(bookings: Iterable[LegalAidBooking], contacts: dict[int, WorkerContact]) -> int:
    """How many distinct workers of ``bookings`` have a name or a phone in ``contacts``."""
    return len({b.worker_id for b in bookings if any(contacts[b.id])})
