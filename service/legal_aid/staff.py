"""The legal-aid staff's side of bookings (docs/contract.md §4): the bookings of
their organizations with the worker to call, recording a consultation
(outcome and notes) or a no-show, and the day sheet a provider prints.

Rules and error cases:
- Staff reach the bookings of slots whose provider belongs to one of their
  organizations (404 otherwise).  Descriptions, notes and the worker's
  contact (``contacts``: name and phone, in full) are read only by legal-aid
  staff and admins; every list, booking or sheet served with contacts is
  audit-logged with how many workers' contacts it disclosed.
- Only a ``booked`` booking can be completed or marked no-show (409
  ``invalid_state``), and only once the slot has begun (409
  ``consultation_not_started``), so no consultation counts before it took
  place.  Either withdraws the pending reminder.

Use cases return model objects; the output schemas shape them.
"""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager

from models import db
from models.legal_aid import LegalAidBooking, LegalAidProvider, LegalAidSlot
from service.auth.permissions import Scope
from service.common import clock
from service.common.audit import changes
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.common.transaction import transactional
from service.legal_aid import contacts, display, messages, store
from service.legal_aid.errors import ConsultationNotStarted, NotHandleable

DAY_SHEET_HEADERS = ["时段", "咨询方式", "地点", "时段状态", "预约编号", "咨询事项", "问题描述", "职工姓名",
                     "联系电话", "预约状态", "处理结果", "咨询记录"]
DAY_SHEET_TITLE = "咨询安排"
DAY_SHEET_ASCII_NAME = "legal-aid-day-sheet.xlsx"
NOT_STARTED = {"completed": "咨询尚未开始，不能登记为已完成", "no_show": "咨询尚未开始，不能登记为未到场"}


class DaySheet(NamedTuple):
    """One provider's consultations of one day, as ``xlsx_response`` takes them."""

    filename: str
    sheets: dict[str, tuple[list[str], list[list]]]


def booking_page(scope: Scope, args: dict) -> dict:
    """Bookings of the caller's organizations by slot date, provider, status, topic,
    without the workers' contacts (the dashboard's count of the day)."""
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


def _common_organization(bookings: list[LegalAidBooking]) -> int | None:
    """The smallest organization holding every booking's provider (None for none): where
    an audit row of a list belongs, so that the admins of those organizations read it."""
    paths = [b.slot.provider.organization.path.strip("/").split("/") for b in bookings]
    common: list[str] = []
    for ids in zip(*paths):
        if len(set(ids)) > 1:
            break
        common.append(ids[0])
    return int(common[-1]) if common else None


@transactional
def list_admin_bookings(scope: Scope, args: dict) -> dict:
    """``booking_page`` with each worker's contact (``contacts``); audit-logged with
    its filters and how many workers' contacts it disclosed."""
    page = booking_page(scope, args)
    items = list(page["items"])
    workers = contacts.attach(items)
    filters = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in args.items() if v is not None}
    audit("legal_aid.booking.list", "legal_aid_booking", None, organization_id=_common_organization(items),
          details={"workers": workers, "bookings": len(items), "filters": filters})
    db.session.commit()
    return page


@transactional
def get_admin_booking(scope: Scope, booking_id: int) -> LegalAidBooking:
    """One booking with its worker's contact; audit-logged."""
    booking = store.booking_in_scope(scope, booking_id)
    workers = contacts.attach([booking])
    audit("legal_aid.booking.view", "legal_aid_booking", booking.id,
          organization_id=booking.slot.provider.organization_id, details={"workers": workers})
    db.session.commit()
    return booking


def _finish(scope: Scope, booking_id: int, actor_id: int | None, status: str, action: str,
            values: dict) -> LegalAidBooking:
    booking = store.booking_in_scope(scope, booking_id)
    if booking.status != "booked":
        raise NotHandleable()
    now = clock.now()
    if booking.slot.starts_at > now:
        raise ConsultationNotStarted(NOT_STARTED[status])
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


@transactional
def complete_booking(scope: Scope, booking_id: int, actor_id: int | None, data: dict) -> LegalAidBooking:
    """``booked`` → ``completed`` with the outcome and consultation notes, once the
    slot has begun (409 ``invalid_state``, ``consultation_not_started``)."""
    return _finish(scope, booking_id, actor_id, "completed", "legal_aid.booking.complete",
                   {"outcome": data["outcome"], "notes": data.get("notes") or None})


@transactional
def mark_no_show(scope: Scope, booking_id: int, actor_id: int | None) -> LegalAidBooking:
    """``booked`` → ``no_show`` once the slot has begun (409 ``invalid_state``,
    ``consultation_not_started``)."""
    return _finish(scope, booking_id, actor_id, "no_show", "legal_aid.booking.no_show", {})


def _day_sheet_rows(slots: list[LegalAidSlot]) -> tuple[list[list], int]:
    """A row per booking (not cancelled) with the worker's name and phone in full; a
    slot without bookings on a row of its own.  Also: how many workers' contacts."""
    by_slot: dict[int, list[LegalAidBooking]] = {s.id: [] for s in slots}
    if slots:
        for booking in db.session.scalars(
                select(LegalAidBooking).where(LegalAidBooking.slot_id.in_(list(by_slot)),
                                              LegalAidBooking.status != "cancelled")
                .order_by(LegalAidBooking.id)):
            by_slot[booking.slot_id].append(booking)
    bookings = [b for listed in by_slot.values() for b in listed]
    found = contacts.contacts_of(bookings)
    out: list[list] = []
    for slot in slots:
        local_start, local_end = clock.to_local(slot.starts_at), clock.to_local(slot.ends_at)
        head = [f"{local_start:%H:%M}-{local_end:%H:%M}", display.MODE_LABELS.get(slot.mode, slot.mode),
                display.slot_location(slot) or "", "已取消" if slot.status == "cancelled" else "正常"]
        if not by_slot[slot.id]:
            out.append(head + ["", "", "", "", "", "暂无预约", "", ""])
        for booking in by_slot[slot.id]:
            contact = found[booking.id]
            out.append(head + [booking.id, display.TOPICS.get(booking.topic, booking.topic),
                               display.description(booking) or "", contact.name or "", contact.phone or "",
                               display.STATUS_LABELS.get(booking.status, booking.status),
                               display.OUTCOME_LABELS.get(booking.outcome, "") if booking.outcome else "",
                               booking.notes or ""])
    return out, contacts.disclosed(bookings, found)


@transactional
def day_sheet(scope: Scope, provider_id: int, day: dt.date) -> DaySheet:
    """The provider's consultations of one day, for printing: slots in time order,
    each with its bookings and the worker to call (see ``_day_sheet_rows``).
    Audit-logged with how many workers' contacts it disclosed."""
    provider = store.provider_in_scope(scope, provider_id)
    start, end = store.day_bounds(day)
    slots = list(db.session.scalars(select(LegalAidSlot).where(
        LegalAidSlot.provider_id == provider.id, LegalAidSlot.starts_at >= start,
        LegalAidSlot.starts_at < end).order_by(LegalAidSlot.starts_at, LegalAidSlot.id)))
    rows, workers = _day_sheet_rows(slots)
    audit("legal_aid.day_sheet.export", "legal_aid_provider", provider.id,
          organization_id=provider.organization_id,
          details={"date": day.isoformat(), "rows": len(rows), "workers": workers})
    db.session.commit()
    return DaySheet(filename=f"{DAY_SHEET_TITLE}-{day.isoformat()} {provider.name}.xlsx",
                    sheets={DAY_SHEET_TITLE: (DAY_SHEET_HEADERS, rows)})
