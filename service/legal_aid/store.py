"""Reading, locking and filtering legal-aid rows: the plumbing every use case
of ``schedule``, ``booking`` and ``staff`` shares.

Lock order (no deadlocks): worker row → slot row → booking rows; rule edits
take provider row → slot rows.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from models import db
from models.legal_aid import LegalAidBooking, LegalAidProvider, LegalAidRule, LegalAidSlot
from service.auth.permissions import Scope
from service.common import clock
from service.common.schemas import MAX_ID
from service.legal_aid.errors import BookingNotFound, ProviderNotFound, RuleNotFound, SlotNotFound


def lock_row(model, row_id: int) -> None:
    """``SELECT id … FOR NO KEY UPDATE`` on PostgreSQL (nothing on SQLite, whose
    transactions are serialised by BEGIN IMMEDIATE).  Only the id is selected,
    so no eager join locks other rows; NO KEY leaves inserts of rows that
    reference this one (foreign keys take KEY SHARE) unblocked."""
    db.session.execute(select(model.id).where(model.id == row_id).with_for_update(key_share=True))


def get(model, row_id: int):
    """The row by primary key, or None; an id beyond the INTEGER column matches nothing
    (path parameters are not range-checked by the router)."""
    return db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None


def expire(*models) -> None:
    """Forget loaded rows of ``models`` after conditional Core updates changed them."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, models):
            db.session.expire(obj)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of Asia/Shanghai midnight at ``day`` and the day after."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=clock.SHANGHAI)
    return start.astimezone(clock.UTC), (start + dt.timedelta(days=1)).astimezone(clock.UTC)


def slot_filters(stmt, args: dict):
    """``date_from``/``date_to`` (days in Asia/Shanghai), ``mode`` and ``provider_id`` of the slot."""
    if args.get("date_from"):
        stmt = stmt.where(LegalAidSlot.starts_at >= day_bounds(args["date_from"])[0])
    if args.get("date_to"):
        stmt = stmt.where(LegalAidSlot.starts_at < day_bounds(args["date_to"])[1])
    if args.get("mode"):
        stmt = stmt.where(LegalAidSlot.mode == args["mode"])
    if args.get("provider_id"):
        stmt = stmt.where(LegalAidSlot.provider_id == args["provider_id"])
    return stmt


# --- one row within the caller's organizations (404 otherwise) ---------------------------

def provider_in_scope(scope: Scope, provider_id: int) -> LegalAidProvider:
    provider = get(LegalAidProvider, provider_id)
    if provider is None or not scope.allows(provider.organization_id):
        raise ProviderNotFound()
    return provider


def rule_in_scope(scope: Scope, rule_id: int) -> LegalAidRule:
    rule = get(LegalAidRule, rule_id)
    if rule is None or not scope.allows(rule.provider.organization_id):
        raise RuleNotFound()
    return rule


def slot_in_scope(scope: Scope, slot_id: int) -> LegalAidSlot:
    slot = get(LegalAidSlot, slot_id)
    if slot is None or not scope.allows(slot.provider.organization_id):
        raise SlotNotFound()
    return slot


def booking_in_scope(scope: Scope, booking_id: int) -> LegalAidBooking:
    booking = get(LegalAidBooking, booking_id)
    if booking is None or not scope.allows(booking.slot.provider.organization_id):
        raise BookingNotFound()
    return booking
