"""The legal-aid staff's side of bookings (docs/contract.md §4): the bookings of
their organizations, recording a consultation (outcome and notes) or a
no-show, and the day sheet a provider prints.

Rules and error cases:
- Staff reach the bookings of slots whose provider belongs to one of their
  organizations (404 otherwise).  Descriptions and notes are read only by
  legal-aid staff and admins; contact phones leave masked.
- Only a ``booked`` booking can be completed or marked no-show (409
  ``invalid_state``); a no-show only once the slot has begun.  Either
  withdraws the pending reminder.
- The day sheet's export of personal data is audit-logged.

Use cases return model objects; the output schemas shape them.
"""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager

from models import Worker, db
from models.legal_aid import LegalAidBooking, LegalAidProvider, LegalAidSlot
from service.auth.permissions import Scope
from service.common import clock, pii
from service.common.audit import changes
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.legal_aid import display, messages, store
from service.legal_aid.errors import ConsultationNotStarted, NotHandleable

DAY_SHEET_HEADERS = ["时段", "咨询方式", "地点", "时段状态", "预约编号", "咨询事项", "问题描述", "联系电话",
                     "预约状态", "处理结果", "咨询记录"]
DAY_SHEET_TITLE = "咨询安排"
DAY_SHEET_ASCII_NAME = "legal-aid-day-sheet.xlsx"


class DaySheet(NamedTuple):
    """One provider's consultations of one day, as ``xlsx_response`` takes them."""

    filename: str
    sheets: dict[str, tuple[list[str], list[list]]]


def list_admin_bookings(scope: Scope, args: dict) -> dict:
    """Bookings of the caller's organizations by slot date, provider, status, topic."""
    stmt = (select(LegalAidBooking).join(LegalAidBooking.slot).join(LegalAidSlot.provider)
            .join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidBooking.slot).contains_eager(LegalAidSlot.provider)
                     .contains_eager(LegalAidProvider.organization))
            .where(scope.clause(LegalAidProvider.organization_id)))
    stmt = store.slot_filters(stmt, {k: args.get(k) for k in ("date_from", "date_to", "provider_id")})
    for key in ("status", "topic"):
        if args.get(key):
            stmt = stmt.where(getattr(LegalAidBooking, key) == args[key])
    return paginate(stmt.order_by(LegalAidSlot.starts_at, LegalAidBooking.id), args["page"], args["per_page"])


def get_admin_booking(scope: Scope, booking_id: int) -> LegalAidBooking:
    return store.booking_in_scope(scope, booking_id)


def _finish(scope: Scope, booking_id: int, actor_id: int | None, status: str, action: str,
            values: dict) -> LegalAidBooking:
    booking = store.booking_in_scope(scope, booking_id)
    if booking.status != "booked":
        raise NotHandleable()
    now = clock.now()
    if status == "no_show" and booking.slot.starts_at > now:
        raise ConsultationNotStarted()
    done = db.session.execute(
        update(LegalAidBooking).where(LegalAidBooking.id == booking.id, LegalAidBooking.status == "booked")
        .values(status=status, handled_by_id=actor_id, completed_at=now, updated_at=now, **values)
        .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise NotHandleable()
    messages.withdraw_reminder(booking.id)
    after = {"status": status, **{k: v for k, v in values.items() if k != "notes"}}  # notes stay out of the log
    audit(action, "legal_aid_booking", booking.id, organization_id=booking.slot.provider.organization_id,
          details={"changed": changes({"status": "booked"}, after)})
    store.expire(LegalAidBooking)
    db.session.refresh(booking)
    db.session.commit()
    return booking


@store.transactional
def complete_booking(scope: Scope, booking_id: int, actor_id: int | None, data: dict) -> LegalAidBooking:
    """``booked`` → ``completed`` with the outcome and consultation notes (409 ``invalid_state``)."""
    return _finish(scope, booking_id, actor_id, "completed", "legal_aid.booking.complete",
                   {"outcome": data["outcome"], "notes": data.get("notes") or None})


@store.transactional
def mark_no_show(scope: Scope, booking_id: int, actor_id: int | None) -> LegalAidBooking:
    """``booked`` → ``no_show`` once the slot has begun (409 ``invalid_state``)."""
    return _finish(scope, booking_id, actor_id, "no_show", "legal_aid.booking.no_show", {})


def _day_sheet_rows(slots: list[LegalAidSlot]) -> list[list]:
    """A row per booking (not cancelled) with a masked phone, the booking's contact
    phone else the worker's; a slot without bookings on a row of its own."""
    by_slot: dict[int, list[tuple[LegalAidBooking, str | None]]] = {s.id: [] for s in slots}
    if slots:
        rows = db.session.execute(
            select(LegalAidBooking, Worker.phone_enc).join(Worker, Worker.id == LegalAidBooking.worker_id)
            .where(LegalAidBooking.slot_id.in_(list(by_slot)), LegalAidBooking.status != "cancelled")
            .order_by(LegalAidBooking.id)).all()
        for booking, worker_phone in rows:
            by_slot[booking.slot_id].append((booking, worker_phone))
    out: list[list] = []
    for slot in slots:
        local_start, local_end = clock.to_local(slot.starts_at), clock.to_local(slot.ends_at)
        head = [f"{local_start:%H:%M}-{local_end:%H:%M}", display.MODE_LABELS.get(slot.mode, slot.mode),
                display.slot_location(slot) or "", "已取消" if slot.status == "cancelled" else "正常"]
        if not by_slot[slot.id]:
            out.append(head + ["", "", "", "", "暂无预约", "", ""])
        for booking, worker_phone in by_slot[slot.id]:
            phone = display.contact_phone(booking) or pii.decrypt_optional(worker_phone, "worker.phone")
            out.append(head + [booking.id, display.TOPICS.get(booking.topic, booking.topic),
                               display.description(booking) or "", pii.mask(phone) or "",
                               display.STATUS_LABELS.get(booking.status, booking.status),
                               display.OUTCOME_LABELS.get(booking.outcome, "") if booking.outcome else "",
                               booking.notes or ""])
    return out


@store.transactional
def day_sheet(scope: Scope, provider_id: int, day: dt.date) -> DaySheet:
    """The provider's consultations of one day, for printing: slots in time order,
    each with its bookings (see ``_day_sheet_rows``).  Audit-logged."""
    provider = store.provider_in_scope(scope, provider_id)
    start, end = store.day_bounds(day)
    slots = list(db.session.scalars(select(LegalAidSlot).where(
        LegalAidSlot.provider_id == provider.id, LegalAidSlot.starts_at >= start,
        LegalAidSlot.starts_at < end).order_by(LegalAidSlot.starts_at, LegalAidSlot.id)))
    rows = _day_sheet_rows(slots)
    audit("legal_aid.day_sheet.export", "legal_aid_provider", provider.id,
          organization_id=provider.organization_id, details={"date": day.isoformat(), "rows": len(rows)})
    db.session.commit()
    return DaySheet(filename=f"{DAY_SHEET_TITLE}-{day.isoformat()} {provider.name}.xlsx",
                    sheets={DAY_SHEET_TITLE: (DAY_SHEET_HEADERS, rows)})
