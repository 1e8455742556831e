"""Legal-aid consultation booking (法律援助咨询预约), docs/contract.md §4.

Providers (lawyers of the firm under the federation's service agreement,
volunteer legal service stations) belong to a union organization; its
legal-aid staff and admins keep their slots, one by one or as weekly rules,
and read the bookings and consultation notes.  Workers book a seat.

Rules and error cases:
- Slots of one provider never overlap (409 ``slot_overlap`` for one slot; a
  weekly rule skips the overlapping dates and says which).  Checked under a
  ``SELECT … FOR NO KEY UPDATE`` lock on the provider row, so two staff members
  cannot create overlapping slots at once.
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
  (409 ``cancel_window_closed``); only a ``booked`` booking can be cancelled,
  completed or marked no-show (409 ``invalid_state``).  Cancelling frees the
  seat in the same transaction.
- Editing a weekly rule regenerates its future slots; a slot with bookings is
  never deleted nor moved.  Staff cancelling a slot cancels its bookings and
  queues a ``booking_cancelled`` message to each worker.
- Messages go through the outbox in the same transaction: confirmation at
  once, a reminder the day before (withdrawn when the booking is cancelled).
- Descriptions, notes and contact phones are read only by legal-aid staff and
  admins of the provider's organization; phones leave masked.

Lock order (no deadlocks): worker row → slot row → booking rows; rule edits
take provider row → slot rows.
"""
from __future__ import annotations

import datetime as dt
import functools

from flask import current_app
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from models import Organization, Worker, db
from models.legal_aid import LegalAidBooking, LegalAidProvider, LegalAidRule, LegalAidSlot
from service.common.schemas import MAX_ID
from service.auth.permissions import Scope
from service.common import clock, pii
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.errors import InvalidState, NotFound, ValidationFailed, error_type
from service.notifications import outbox

TOPICS = {
    "wage_arrears": "欠薪",
    "labor_contract": "劳动合同",
    "work_injury": "工伤",
    "social_insurance": "社会保险",
    "dismissal": "解除劳动关系",
    "other": "其他",
}
KIND_LABELS = {"lawyer": "律师", "volunteer_station": "志愿法律服务站"}
MODE_LABELS = {"online": "线上", "offline": "线下"}
STATUS_LABELS = {"booked": "已预约", "cancelled": "已取消", "completed": "已完成", "no_show": "未到场"}
OUTCOME_LABELS = {"advised": "已解答", "referred_to_legal_aid_case": "转法律援助案件",
                  "mediation": "调解", "other": "其他"}
ONLINE_LOCATION = "线上咨询"
BOOKING_PAGE = "pages/legal-aid/booking?id={id}"

SlotFull = error_type("slot_full", 409, "该时段已约满，请选择其他时段")
AlreadyBooked = error_type("already_booked", 409, "您已预约该时段，请勿重复预约")
TooManyActiveBookings = error_type("too_many_active_bookings", 409,
                                   "您的待咨询预约已达上限，请先完成或取消已有预约")
OutsideBookingWindow = error_type("outside_booking_window", 409, "该时段不在可预约的时间范围内")
SlotStarted = error_type("slot_started", 409, "该时段已开始，无法预约")
CancelWindowClosed = error_type("cancel_window_closed", 409, "距咨询开始已不足 2 小时，无法取消预约")
SlotOverlap = error_type("slot_overlap", 409, "该时段与此服务提供方已有的时段重叠")

SLOT_NOT_FOUND = "该咨询时段不存在或已取消"
BOOKING_NOT_FOUND = "预约不存在"


# --- plumbing --------------------------------------------------------------------------

def transactional(fn):
    """One use case, one transaction: any error rolls back what was written (and the locks)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise
    return wrapper


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name, default))


def _window() -> tuple[dt.timedelta, dt.timedelta, dt.timedelta]:
    """(max days ahead, min lead, cancellation cut-off) from config."""
    return (dt.timedelta(days=_setting("BOOKING_WINDOW_DAYS", 14)),
            dt.timedelta(minutes=_setting("BOOKING_MIN_LEAD_MINUTES", 60)),
            dt.timedelta(minutes=_setting("BOOKING_CANCEL_CUTOFF_MINUTES", 120)))


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of Asia/Shanghai midnight at ``day`` and the day after."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=clock.SHANGHAI)
    return start.astimezone(clock.UTC), (start + dt.timedelta(days=1)).astimezone(clock.UTC)


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=clock.SHANGHAI).astimezone(clock.UTC)


def _lock_row(model, row_id: int) -> None:
    """``SELECT id … FOR NO KEY UPDATE`` on PostgreSQL (nothing on SQLite, whose
    transactions are serialised by BEGIN IMMEDIATE).  Only the id is selected,
    so no eager join locks other rows; NO KEY leaves inserts of rows that
    reference this one (foreign keys take KEY SHARE) unblocked."""
    db.session.execute(select(model.id).where(model.id == row_id).with_for_update(key_share=True))


def _get(model, row_id: int):
    """The row by primary key, or None; an id beyond the INTEGER column matches nothing
    (path parameters are not range-checked by the router)."""
    return db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None


def _expire(*models) -> None:
    """Forget loaded rows of ``models`` after conditional Core updates changed them."""
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, models):
            db.session.expire(obj)


def _decrypt(token: str | None, context: str) -> str | None:
    return pii.decrypt(token, context) if token else None


# --- views (dicts the output schemas describe) --------------------------------------

def provider_ref(p: LegalAidProvider) -> dict:
    return {"id": p.id, "name": p.name, "kind": p.kind, "kind_label": KIND_LABELS.get(p.kind, p.kind),
            "firm": p.firm, "organization": {"id": p.organization.id, "name": p.organization.name}}


def provider_view(p: LegalAidProvider) -> dict:
    out = provider_ref(p)
    out.update({"organization_id": p.organization_id, "address": p.address, "phone": p.phone,
                "active": p.active, "created_at": p.created_at, "updated_at": p.updated_at})
    return out


def _slot_location(slot: LegalAidSlot) -> str | None:
    return slot.location if slot.mode == "offline" else (slot.location or ONLINE_LOCATION)


def slot_view(slot: LegalAidSlot, now: dt.datetime | None = None) -> dict:
    now = now or clock.now()
    ahead, lead, _ = _window()
    bookable = (slot.status == "open" and slot.provider.active and slot.booked < slot.capacity
                and now + lead <= slot.starts_at <= now + ahead)
    return {"id": slot.id, "provider": provider_ref(slot.provider), "starts_at": slot.starts_at,
            "ends_at": slot.ends_at, "mode": slot.mode, "mode_label": MODE_LABELS.get(slot.mode),
            "location": _slot_location(slot), "capacity": slot.capacity,
            "remaining": max(slot.capacity - slot.booked, 0), "bookable": bookable}


def admin_slot_view(slot: LegalAidSlot, now: dt.datetime | None = None) -> dict:
    out = slot_view(slot, now)
    out.update({"booked": slot.booked, "status": slot.status, "rule_id": slot.rule_id,
                "cancel_reason": slot.cancel_reason, "cancelled_at": slot.cancelled_at})
    return out


def rule_view(rule: LegalAidRule, upcoming: int | None = None) -> dict:
    if upcoming is None:
        upcoming = db.session.scalar(select(func.count(LegalAidSlot.id)).where(
            LegalAidSlot.rule_id == rule.id, LegalAidSlot.status == "open",
            LegalAidSlot.starts_at > clock.now())) or 0
    return {"id": rule.id, "provider_id": rule.provider_id, "provider": provider_ref(rule.provider),
            "weekdays": list(rule.weekdays or []), "start": rule.start_time, "end": rule.end_time,
            "capacity": rule.capacity, "mode": rule.mode, "location": rule.location,
            "valid_from": rule.valid_from, "valid_until": rule.valid_until, "upcoming_slots": upcoming,
            "created_at": rule.created_at, "updated_at": rule.updated_at}


def _booking_common(b: LegalAidBooking) -> dict:
    return {"id": b.id, "status": b.status, "status_label": STATUS_LABELS.get(b.status),
            "topic": b.topic, "topic_label": TOPICS.get(b.topic),
            "description": _decrypt(b.description_enc, "legal_aid.description"),
            "contact_phone": pii.mask(_decrypt(b.contact_phone_enc, "legal_aid.contact_phone")),
            "outcome": b.outcome, "outcome_label": OUTCOME_LABELS.get(b.outcome) if b.outcome else None,
            "cancelled_by": b.cancelled_by, "cancel_reason": b.cancel_reason,
            "created_at": b.created_at, "cancelled_at": b.cancelled_at}


def booking_view(b: LegalAidBooking, now: dt.datetime | None = None) -> dict:
    """The worker's view: no consultation notes."""
    now = now or clock.now()
    _, _, cutoff = _window()
    out = _booking_common(b)
    out["slot"] = slot_view(b.slot, now)
    out["can_cancel"] = b.status == "booked" and b.slot.starts_at - now >= cutoff
    return out


def admin_booking_view(b: LegalAidBooking, now: dt.datetime | None = None) -> dict:
    """Legal-aid staff's view: with the description and the consultation notes."""
    out = _booking_common(b)
    out.update({"worker_id": b.worker_id, "slot": admin_slot_view(b.slot, now), "notes": b.notes,
                "handled_by_id": b.handled_by_id, "updated_at": b.updated_at,
                "completed_at": b.completed_at})
    return out


def topics() -> list[dict]:
    return [{"code": code, "label": label} for code, label in TOPICS.items()]


# --- messages --------------------------------------------------------------------------

def _message_data(b: LegalAidBooking, slot: LegalAidSlot, third: str | None = None) -> dict:
    return {"thing1": TOPICS.get(b.topic, b.topic), "time2": slot.starts_at,
            "thing3": third if third is not None else (_slot_location(slot) or slot.provider.address or ""),
            "thing4": slot.provider.name}


def _reminder_key(booking_id: int) -> str:
    return f"booking-reminder:{booking_id}"


def _queue_booking_messages(b: LegalAidBooking, slot: LegalAidSlot, now: dt.datetime) -> None:
    """Confirmation at once; reminder 24 h before (at once if that has passed; none if
    it would come after the start)."""
    page = BOOKING_PAGE.format(id=b.id)
    data = _message_data(b, slot)
    outbox.enqueue(b.worker_id, "booking_confirmed", data, page=page, dedupe_key=f"booking-confirmed:{b.id}")
    send_at = max(slot.starts_at - dt.timedelta(hours=24), now)
    if send_at < slot.starts_at:
        outbox.enqueue(b.worker_id, "booking_reminder", data, send_after=send_at, page=page,
                       dedupe_key=_reminder_key(b.id))


# --- scope helpers -----------------------------------------------------------------------

def _provider_in_scope(scope: Scope, provider_id: int) -> LegalAidProvider:
    provider = _get(LegalAidProvider, provider_id)
    if provider is None or not scope.allows(provider.organization_id):
        raise NotFound("服务提供方不存在")
    return provider


def _rule_in_scope(scope: Scope, rule_id: int) -> LegalAidRule:
    rule = _get(LegalAidRule, rule_id)
    if rule is None or not scope.allows(rule.provider.organization_id):
        raise NotFound("排班规则不存在")
    return rule


def _slot_in_scope(scope: Scope, slot_id: int) -> LegalAidSlot:
    slot = _get(LegalAidSlot, slot_id)
    if slot is None or not scope.allows(slot.provider.organization_id):
        raise NotFound("咨询时段不存在")
    return slot


def _booking_in_scope(scope: Scope, booking_id: int) -> LegalAidBooking:
    booking = _get(LegalAidBooking, booking_id)
    if booking is None or not scope.allows(booking.slot.provider.organization_id):
        raise NotFound(BOOKING_NOT_FOUND)
    return booking


def _provider_for_schedule(scope: Scope, provider_id: int) -> LegalAidProvider:
    """The provider named in a slot or rule body, locked for the overlap check (422 if unknown)."""
    provider = _get(LegalAidProvider, provider_id)
    if provider is None or not scope.allows(provider.organization_id):
        raise ValidationFailed({"provider_id": ["服务提供方不存在"]})
    if not provider.active:
        raise ValidationFailed({"provider_id": ["该服务提供方已停用"]})
    _lock_row(LegalAidProvider, provider.id)
    return provider


def _location_for(provider: LegalAidProvider, mode: str, location: str | None) -> str | None:
    if mode == "offline":
        location = location or provider.address
        if not location:
            raise ValidationFailed({"location": ["线下咨询须填写地点"]})
    return location or None


# --- providers ---------------------------------------------------------------------------

@transactional
def create_provider(scope: Scope, data: dict) -> dict:
    """A lawyer (with ``firm``) or a volunteer station (with ``address``) under an
    organization the caller reaches (422 ``organization_id`` otherwise)."""
    org = _get(Organization, data["organization_id"])
    if org is None or not scope.allows(org.id):
        raise ValidationFailed({"organization_id": ["工会组织不存在"]})
    now = clock.now()
    provider = LegalAidProvider(organization_id=org.id, kind=data["kind"], name=data["name"],
                                firm=data.get("firm") or None, address=data.get("address") or None,
                                phone=data.get("phone") or None, active=data.get("active", True),
                                created_at=now, updated_at=now)
    db.session.add(provider)
    db.session.flush()
    audit("legal_aid.provider.create", "legal_aid_provider", provider.id, organization_id=org.id,
          details={"name": provider.name, "kind": provider.kind})
    view = provider_view(provider)
    db.session.commit()
    return view


def list_providers(scope: Scope, args: dict) -> dict:
    stmt = (select(LegalAidProvider).where(scope.clause(LegalAidProvider.organization_id))
            .order_by(LegalAidProvider.id))
    for key in ("kind", "organization_id", "active"):
        if args.get(key) is not None:
            stmt = stmt.where(getattr(LegalAidProvider, key) == args[key])
    page = paginate(stmt, args["page"], args["per_page"])
    page["items"] = [provider_view(p) for p in page["items"]]
    return page


@transactional
def update_provider(scope: Scope, provider_id: int, data: dict) -> dict:
    """Rename, change firm/address/phone, or (de)activate.  A deactivated provider's
    slots disappear from the worker's list and cannot be booked; existing
    bookings stay.  A lawyer keeps a firm, a station an address (422)."""
    provider = _provider_in_scope(scope, provider_id)
    for key in ("name", "firm", "address", "phone", "active"):
        if key in data:
            value = data[key]
            setattr(provider, key, value if value != "" else None)
    if provider.kind == "lawyer" and not provider.firm:
        raise ValidationFailed({"firm": ["律师须填写所在律师事务所"]})
    if provider.kind == "volunteer_station" and not provider.address:
        raise ValidationFailed({"address": ["志愿服务站须填写地址"]})
    provider.updated_at = clock.now()
    audit("legal_aid.provider.update", "legal_aid_provider", provider.id,
          organization_id=provider.organization_id, details=dict(data))
    view = provider_view(provider)
    db.session.commit()
    return view


# --- slots and weekly rules ------------------------------------------------------------

def _open_slots_between(provider_id: int, start: dt.datetime, end: dt.datetime) -> list[LegalAidSlot]:
    return list(db.session.scalars(select(LegalAidSlot).where(
        LegalAidSlot.provider_id == provider_id, LegalAidSlot.status == "open",
        LegalAidSlot.starts_at < end, LegalAidSlot.ends_at > start)))


@transactional
def create_slots(scope: Scope, data: dict) -> dict:
    """One slot, or a weekly rule and the slots it generates (see ``_generate``)."""
    provider = _provider_for_schedule(scope, data["provider_id"])
    location = _location_for(provider, data["mode"], data.get("location"))
    now = clock.now()
    if "weekdays" in data:
        return _create_rule(provider, data, location, now)
    if data["starts_at"] <= now:
        raise ValidationFailed({"starts_at": ["开始时间应晚于当前时间"]})
    if _open_slots_between(provider.id, data["starts_at"], data["ends_at"]):
        raise SlotOverlap()
    slot = LegalAidSlot(provider_id=provider.id, starts_at=data["starts_at"], ends_at=data["ends_at"],
                        capacity=data["capacity"], booked=0, mode=data["mode"], location=location,
                        status="open", created_at=now)
    db.session.add(slot)
    db.session.flush()
    audit("legal_aid.slot.create", "legal_aid_slot", slot.id, organization_id=provider.organization_id,
          details={"provider_id": provider.id, "starts_at": clock.isoformat(slot.starts_at),
                   "ends_at": clock.isoformat(slot.ends_at), "capacity": slot.capacity})
    view = {"created": 1, "skipped_dates": [], "slot": admin_slot_view(slot), "rule": None}
    db.session.commit()
    return view


def _create_rule(provider: LegalAidProvider, data: dict, location: str | None, now: dt.datetime) -> dict:
    if data["valid_until"] < clock.today_local():
        raise ValidationFailed({"until": ["结束日期不能早于今天"]})
    rule = LegalAidRule(provider_id=provider.id, weekdays=sorted(set(data["weekdays"])),
                        start_time=data["start"], end_time=data["end"], capacity=data["capacity"],
                        mode=data["mode"], location=location, valid_from=data["valid_from"],
                        valid_until=data["valid_until"], created_at=now, updated_at=now)
    db.session.add(rule)
    db.session.flush()
    created, skipped = _generate(rule, provider, now)
    audit("legal_aid.rule.create", "legal_aid_rule", rule.id, organization_id=provider.organization_id,
          details={"provider_id": provider.id, "weekdays": rule.weekdays,
                   "start": rule.start_time.strftime("%H:%M"), "end": rule.end_time.strftime("%H:%M"),
                   "from": rule.valid_from.isoformat(), "until": rule.valid_until.isoformat(),
                   "created": created, "skipped_dates": [d.isoformat() for d in skipped]})
    view = {"created": created, "skipped_dates": skipped, "slot": None, "rule": rule_view(rule)}
    db.session.commit()
    return view


def _rule_times(rule: LegalAidRule, now: dt.datetime):
    """(date, starts, ends) of the rule's future occurrences, Asia/Shanghai times as UTC."""
    weekdays = set(rule.weekdays or [])
    day = max(rule.valid_from, clock.to_local(now).date())
    while day <= rule.valid_until:
        if day.isoweekday() in weekdays:
            starts, ends = _at(day, rule.start_time), _at(day, rule.end_time)
            if starts > now:
                yield day, starts, ends
        day += dt.timedelta(days=1)


def _generate(rule: LegalAidRule, provider: LegalAidProvider, now: dt.datetime) -> tuple[int, list[dt.date]]:
    """Create the rule's slots on its weekdays from max(from, today) to until.

    Past starts are left out; a date whose slot would overlap an open slot of
    the provider is skipped and reported — unless that slot is the rule's own
    at the very same times (kept from before).  Caller holds the provider row lock.
    """
    occurrences = list(_rule_times(rule, now))
    if not occurrences:
        return 0, []
    taken = [(s.starts_at, s.ends_at, s.rule_id) for s in _open_slots_between(
        provider.id, occurrences[0][1], occurrences[-1][2])]
    created, skipped = 0, []
    for day, starts, ends in occurrences:
        clashes = [t for t in taken if t[0] < ends and t[1] > starts]
        if clashes:
            if not all(t == (starts, ends, rule.id) for t in clashes):
                skipped.append(day)
            continue
        db.session.add(LegalAidSlot(provider_id=provider.id, rule_id=rule.id, starts_at=starts, ends_at=ends,
                                    capacity=rule.capacity, booked=0, mode=rule.mode, location=rule.location,
                                    status="open", created_at=now))
        taken.append((starts, ends, rule.id))
        created += 1
    db.session.flush()
    return created, skipped


def _withdraw_future_slots(rule: LegalAidRule, now: dt.datetime, *, keep_matching: bool) -> tuple[int, list[int]]:
    """Remove the rule's future open slots that have no active booking.

    With ``keep_matching``, a slot exactly as the rule now makes it (same
    times, capacity, mode and location) stays as it is.  A slot never booked
    is deleted; one whose bookings were all cancelled is marked cancelled (its
    history stays).  Each write is conditional on ``booked = 0`` at the time
    of the write, so a booking that commits first keeps its slot.  Returns
    (removed, ids of slots kept, unchanged, for their bookings).
    """
    wanted = {(s, e) for _, s, e in _rule_times(rule, now)} if keep_matching else set()
    rows = db.session.execute(select(
        LegalAidSlot.id, LegalAidSlot.booked, LegalAidSlot.starts_at, LegalAidSlot.ends_at, LegalAidSlot.capacity,
        LegalAidSlot.mode, LegalAidSlot.location).where(
        LegalAidSlot.rule_id == rule.id, LegalAidSlot.status == "open",
        LegalAidSlot.starts_at > now).order_by(LegalAidSlot.starts_at)).all()
    removed, kept = 0, []
    for slot_id, booked, starts, ends, capacity, mode, location in rows:
        if (starts, ends) in wanted and (capacity, mode, location) == (rule.capacity, rule.mode, rule.location):
            continue
        if booked == 0:
            gone = db.session.execute(
                delete(LegalAidSlot).where(
                    LegalAidSlot.id == slot_id, LegalAidSlot.booked == 0,
                    ~exists().where(LegalAidBooking.slot_id == slot_id))
                .execution_options(synchronize_session=False)).rowcount
            if not gone:
                gone = db.session.execute(
                    update(LegalAidSlot).where(LegalAidSlot.id == slot_id, LegalAidSlot.booked == 0,
                                               LegalAidSlot.status == "open")
                    .values(status="cancelled", cancel_reason="排班规则调整", cancelled_at=now)
                    .execution_options(synchronize_session=False)).rowcount
            if gone:
                removed += 1
                continue
        kept.append(slot_id)
    _expire(LegalAidSlot)
    return removed, kept


def list_rules(scope: Scope, args: dict) -> dict:
    stmt = (select(LegalAidRule).join(LegalAidRule.provider).join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidRule.provider).contains_eager(LegalAidProvider.organization))
            .where(scope.clause(LegalAidProvider.organization_id)).order_by(LegalAidRule.id))
    if args.get("provider_id"):
        stmt = stmt.where(LegalAidRule.provider_id == args["provider_id"])
    page = paginate(stmt, args["page"], args["per_page"])
    ids = [r.id for r in page["items"]]
    upcoming = dict(db.session.execute(
        select(LegalAidSlot.rule_id, func.count(LegalAidSlot.id))
        .where(LegalAidSlot.rule_id.in_(ids), LegalAidSlot.status == "open", LegalAidSlot.starts_at > clock.now())
        .group_by(LegalAidSlot.rule_id)).all()) if ids else {}
    page["items"] = [rule_view(r, upcoming.get(r.id, 0)) for r in page["items"]]
    return page


@transactional
def update_rule(scope: Scope, rule_id: int, data: dict) -> dict:
    """Change a weekly rule and regenerate its future slots.

    Future slots the new settings no longer make (other times, weekdays,
    capacity, mode or place) are withdrawn when they have no bookings and
    generated anew; slots with bookings keep their time (and everything else)
    and are listed in ``kept_booked``; new slots overlapping them are skipped.
    Slots the rule still makes as they are stay untouched (same ids).  422 for
    an end before the start or an until before from.
    """
    rule = _rule_in_scope(scope, rule_id)
    provider = rule.provider
    _lock_row(LegalAidProvider, provider.id)
    mapping = {"weekdays": "weekdays", "start": "start_time", "end": "end_time", "capacity": "capacity",
               "mode": "mode", "location": "location", "valid_from": "valid_from",
               "valid_until": "valid_until"}
    for key, attr in mapping.items():
        if key in data:
            setattr(rule, attr, sorted(set(data[key])) if key == "weekdays" else data[key])
    errors = {}
    if rule.end_time <= rule.start_time:
        errors["end"] = ["结束时间应晚于开始时间"]
    if rule.valid_until < rule.valid_from:
        errors["until"] = ["结束日期不能早于开始日期"]
    elif (rule.valid_until - rule.valid_from).days > 366:
        errors["until"] = ["排班周期不能超过一年"]
    if errors:
        raise ValidationFailed(errors)
    rule.location = _location_for(provider, rule.mode, rule.location)
    now = clock.now()
    rule.updated_at = now
    removed, kept = _withdraw_future_slots(rule, now, keep_matching=True)
    created, skipped = _generate(rule, provider, now)
    audit("legal_aid.rule.update", "legal_aid_rule", rule.id, organization_id=provider.organization_id,
          details={"changes": {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()},
                   "removed": removed, "created": created, "kept_booked": kept})
    view = {"rule": rule_view(rule), "created": created, "removed": removed, "kept_booked": kept,
            "skipped_dates": skipped}
    db.session.commit()
    return view


@transactional
def delete_rule(scope: Scope, rule_id: int) -> dict:
    """Delete a weekly rule: its future slots without bookings go, booked ones stay
    (as stand-alone slots), past slots stay for the record."""
    rule = _rule_in_scope(scope, rule_id)
    org_id = rule.provider.organization_id
    _lock_row(LegalAidProvider, rule.provider_id)
    now = clock.now()
    removed, kept = _withdraw_future_slots(rule, now, keep_matching=False)
    db.session.execute(update(LegalAidSlot).where(LegalAidSlot.rule_id == rule_id).values(rule_id=None)
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(LegalAidRule).where(LegalAidRule.id == rule_id)
                       .execution_options(synchronize_session=False))
    audit("legal_aid.rule.delete", "legal_aid_rule", rule_id, organization_id=org_id,
          details={"removed": removed, "kept_booked": kept})
    db.session.commit()
    _expire(LegalAidSlot, LegalAidRule)
    return {"removed": removed, "kept_booked": kept}


def list_admin_slots(scope: Scope, args: dict) -> dict:
    stmt = (select(LegalAidSlot).join(LegalAidSlot.provider).join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidSlot.provider).contains_eager(LegalAidProvider.organization))
            .where(scope.clause(LegalAidProvider.organization_id)))
    stmt = _slot_filters(stmt, args)
    if args.get("status"):
        stmt = stmt.where(LegalAidSlot.status == args["status"])
    page = paginate(stmt.order_by(LegalAidSlot.starts_at, LegalAidSlot.id), args["page"], args["per_page"])
    now = clock.now()
    page["items"] = [admin_slot_view(s, now) for s in page["items"]]
    return page


@transactional
def cancel_slot(scope: Scope, slot_id: int, reason: str) -> dict:
    """Staff cancel a slot: it leaves the worker's list, its booked bookings are
    cancelled (seats freed, reminders withdrawn) and each worker is sent a
    ``booking_cancelled`` message.  409 ``invalid_state`` if already
    cancelled, ``slot_started`` once it has begun."""
    slot = _slot_in_scope(scope, slot_id)
    _lock_row(LegalAidSlot, slot.id)
    db.session.refresh(slot)
    now = clock.now()
    if slot.status != "open":
        raise InvalidState("该时段已取消")
    if slot.starts_at <= now:
        raise SlotStarted("该时段已开始，不能取消")
    bookings = list(db.session.scalars(select(LegalAidBooking).where(
        LegalAidBooking.slot_id == slot.id, LegalAidBooking.status == "booked").order_by(LegalAidBooking.id)))
    cancelled = 0
    for b in bookings:
        done = db.session.execute(
            update(LegalAidBooking).where(LegalAidBooking.id == b.id, LegalAidBooking.status == "booked")
            .values(status="cancelled", cancelled_by="staff", cancel_reason=reason, cancelled_at=now,
                    updated_at=now).execution_options(synchronize_session=False)).rowcount
        if not done:
            continue
        cancelled += 1
        outbox.cancel_pending(_reminder_key(b.id))
        outbox.enqueue(b.worker_id, "booking_cancelled", _message_data(b, slot, third=reason),
                       page=BOOKING_PAGE.format(id=b.id), dedupe_key=f"booking-cancelled:{b.id}")
    db.session.execute(
        update(LegalAidSlot).where(LegalAidSlot.id == slot.id)
        .values(status="cancelled", cancel_reason=reason, cancelled_at=now,
                booked=LegalAidSlot.booked - cancelled).execution_options(synchronize_session=False))
    audit("legal_aid.slot.cancel", "legal_aid_slot", slot.id, organization_id=slot.provider.organization_id,
          details={"reason": reason, "cancelled_bookings": cancelled})
    _expire(LegalAidBooking, LegalAidSlot)
    view = {"slot": admin_slot_view(slot), "cancelled_bookings": cancelled}
    db.session.commit()
    return view


# --- the worker's side -----------------------------------------------------------------------

def _slot_filters(stmt, args: dict):
    if args.get("date_from"):
        stmt = stmt.where(LegalAidSlot.starts_at >= _day_bounds(args["date_from"])[0])
    if args.get("date_to"):
        stmt = stmt.where(LegalAidSlot.starts_at < _day_bounds(args["date_to"])[1])
    if args.get("mode"):
        stmt = stmt.where(LegalAidSlot.mode == args["mode"])
    if args.get("provider_id"):
        stmt = stmt.where(LegalAidSlot.provider_id == args["provider_id"])
    return stmt


def list_open_slots(args: dict) -> dict:
    """Future, open slots of active providers with a seat left, earliest first
    (the worker's hot query: index ``(status, starts_at)``)."""
    now = clock.now()
    stmt = (select(LegalAidSlot).join(LegalAidSlot.provider).join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidSlot.provider).contains_eager(LegalAidProvider.organization))
            .where(LegalAidSlot.status == "open", LegalAidSlot.starts_at > now,
                   LegalAidSlot.booked < LegalAidSlot.capacity, LegalAidProvider.active.is_(True)))
    stmt = _slot_filters(stmt, args).order_by(LegalAidSlot.starts_at, LegalAidSlot.id)
    page = paginate(stmt, args["page"], args["per_page"])
    page["items"] = [slot_view(s, now) for s in page["items"]]
    return page


@transactional
def book_slot(worker: Worker, data: dict) -> dict:
    """Book one seat.  Checks, in order: 404 unknown/cancelled slot (or inactive
    provider), 409 ``slot_started``, ``outside_booking_window``,
    ``already_booked``, ``too_many_active_bookings``, ``slot_full``."""
    now = clock.now()
    slot = _get(LegalAidSlot, data["slot_id"])
    if slot is None or slot.status != "open" or not slot.provider.active:
        raise NotFound(SLOT_NOT_FOUND)
    ahead, lead, _ = _window()
    if slot.starts_at <= now:
        raise SlotStarted()
    if slot.starts_at > now + ahead:
        raise OutsideBookingWindow(f"仅可预约 {ahead.days} 天内的咨询时段")
    if slot.starts_at < now + lead:
        raise OutsideBookingWindow(f"距开始不足 {int(lead.total_seconds() // 60)} 分钟的时段不能预约，请选择其他时段")
    # Serialise this worker's bookings (double taps, the active-booking cap).
    _lock_row(Worker, worker.id)
    if db.session.scalar(select(LegalAidBooking.id).where(
            LegalAidBooking.slot_id == slot.id, LegalAidBooking.worker_id == worker.id,
            LegalAidBooking.status == "booked")) is not None:
        raise AlreadyBooked()
    limit = _setting("BOOKING_MAX_ACTIVE", 3)
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
            raise NotFound(SLOT_NOT_FOUND)
        raise SlotFull()
    booking = LegalAidBooking(
        slot_id=slot.id, worker_id=worker.id, topic=data["topic"],
        description_enc=pii.encrypt(data["description"], "legal_aid.description"),
        contact_phone_enc=pii.encrypt(data.get("contact_phone") or None, "legal_aid.contact_phone"),
        status="booked", created_at=now, updated_at=now)
    db.session.add(booking)
    try:
        db.session.flush()
    except IntegrityError:
        raise AlreadyBooked() from None
    _queue_booking_messages(booking, slot, now)
    db.session.expire(slot)  # its seat count moved in SQL
    view = booking_view(booking, now)
    db.session.commit()
    return view


def _own_booking(worker: Worker, booking_id: int) -> LegalAidBooking:
    booking = _get(LegalAidBooking, booking_id)
    if booking is None or booking.worker_id != worker.id:
        raise NotFound(BOOKING_NOT_FOUND)
    return booking


def get_my_booking(worker: Worker, booking_id: int) -> dict:
    return booking_view(_own_booking(worker, booking_id))


def my_bookings(worker: Worker, args: dict) -> dict:
    stmt = (select(LegalAidBooking).join(LegalAidBooking.slot).join(LegalAidSlot.provider)
            .join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidBooking.slot).contains_eager(LegalAidSlot.provider)
                     .contains_eager(LegalAidProvider.organization))
            .where(LegalAidBooking.worker_id == worker.id)
            .order_by(LegalAidSlot.starts_at.desc(), LegalAidBooking.id.desc()))
    if args.get("status"):
        stmt = stmt.where(LegalAidBooking.status == args["status"])
    page = paginate(stmt, args["page"], args["per_page"])
    now = clock.now()
    page["items"] = [booking_view(b, now) for b in page["items"]]
    return page


def _release(booking_id: int, slot_id: int, values: dict) -> bool:
    """booked → cancelled and the seat back, if still booked.  Caller holds the slot lock."""
    done = db.session.execute(
        update(LegalAidBooking).where(LegalAidBooking.id == booking_id, LegalAidBooking.status == "booked")
        .values(status="cancelled", **values).execution_options(synchronize_session=False)).rowcount
    if done:
        db.session.execute(
            update(LegalAidSlot).where(LegalAidSlot.id == slot_id, LegalAidSlot.booked > 0)
            .values(booked=LegalAidSlot.booked - 1).execution_options(synchronize_session=False))
        outbox.cancel_pending(_reminder_key(booking_id))
    _expire(LegalAidBooking, LegalAidSlot)
    return bool(done)


@transactional
def cancel_my_booking(worker: Worker, booking_id: int) -> dict:
    """The owner cancels: ``booked`` only (409 ``invalid_state``), until the
    cut-off before the start (409 ``cancel_window_closed``); the seat is freed
    and the reminder withdrawn in the same transaction."""
    booking = _own_booking(worker, booking_id)
    if booking.status != "booked":
        raise InvalidState("只有“已预约”状态的预约可以取消")
    now = clock.now()
    _, _, cutoff = _window()
    if booking.slot.starts_at - now < cutoff:
        minutes = int(cutoff.total_seconds() // 60)
        label = f"{minutes // 60} 小时" if minutes % 60 == 0 else f"{minutes} 分钟"
        raise CancelWindowClosed(f"距咨询开始已不足 {label}，无法取消预约")
    _lock_row(LegalAidSlot, booking.slot_id)
    if not _release(booking.id, booking.slot_id, {"cancelled_by": "worker", "cancelled_at": now,
                                                  "updated_at": now}):
        raise InvalidState("只有“已预约”状态的预约可以取消")
    view = booking_view(booking, now)
    db.session.commit()
    return view


# --- the staff's side of bookings ---------------------------------------------------------

def list_admin_bookings(scope: Scope, args: dict) -> dict:
    """Bookings of the caller's organizations by slot date, provider, status, topic."""
    stmt = (select(LegalAidBooking).join(LegalAidBooking.slot).join(LegalAidSlot.provider)
            .join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidBooking.slot).contains_eager(LegalAidSlot.provider)
                     .contains_eager(LegalAidProvider.organization))
            .where(scope.clause(LegalAidProvider.organization_id)))
    stmt = _slot_filters(stmt, {k: args.get(k) for k in ("date_from", "date_to", "provider_id")})
    for key in ("status", "topic"):
        if args.get(key):
            stmt = stmt.where(getattr(LegalAidBooking, key) == args[key])
    page = paginate(stmt.order_by(LegalAidSlot.starts_at, LegalAidBooking.id), args["page"], args["per_page"])
    now = clock.now()
    page["items"] = [admin_booking_view(b, now) for b in page["items"]]
    return page


def get_admin_booking(scope: Scope, booking_id: int) -> dict:
    return admin_booking_view(_booking_in_scope(scope, booking_id))


def _finish(scope: Scope, booking_id: int, actor_id: int | None, status: str, action: str,
            values: dict) -> dict:
    booking = _booking_in_scope(scope, booking_id)
    if booking.status != "booked":
        raise InvalidState("只有“已预约”状态的预约可以办理")
    now = clock.now()
    if status == "no_show" and booking.slot.starts_at > now:
        raise InvalidState("咨询尚未开始，不能标记为未到场")
    done = db.session.execute(
        update(LegalAidBooking).where(LegalAidBooking.id == booking.id, LegalAidBooking.status == "booked")
        .values(status=status, handled_by_id=actor_id, completed_at=now, updated_at=now, **values)
        .execution_options(synchronize_session=False)).rowcount
    if not done:
        raise InvalidState("只有“已预约”状态的预约可以办理")
    outbox.cancel_pending(_reminder_key(booking.id))
    audit(action, "legal_aid_booking", booking.id, organization_id=booking.slot.provider.organization_id,
          details={k: v for k, v in values.items() if k != "notes"} | {"status": status})
    _expire(LegalAidBooking)
    view = admin_booking_view(booking, now)
    db.session.commit()
    return view


@transactional
def complete_booking(scope: Scope, booking_id: int, actor_id: int | None, data: dict) -> dict:
    """``booked`` → ``completed`` with the outcome and consultation notes (409 ``invalid_state``)."""
    return _finish(scope, booking_id, actor_id, "completed", "legal_aid.booking.complete",
                   {"outcome": data["outcome"], "notes": data.get("notes") or None})


@transactional
def mark_no_show(scope: Scope, booking_id: int, actor_id: int | None) -> dict:
    """``booked`` → ``no_show`` once the slot has begun (409 ``invalid_state``)."""
    return _finish(scope, booking_id, actor_id, "no_show", "legal_aid.booking.no_show", {})


@transactional
def day_sheet(scope: Scope, provider_id: int, day: dt.date) -> tuple[str, list[str], list[list]]:
    """The provider's consultations of one day, for printing: slots in time order,
    each booking (not cancelled) on a row with a masked phone; a slot without
    bookings on a row of its own.  The export of personal data is audit-logged."""
    provider = _provider_in_scope(scope, provider_id)
    start, end = _day_bounds(day)
    slots = list(db.session.scalars(select(LegalAidSlot).where(
        LegalAidSlot.provider_id == provider.id, LegalAidSlot.starts_at >= start,
        LegalAidSlot.starts_at < end).order_by(LegalAidSlot.starts_at, LegalAidSlot.id)))
    by_slot: dict[int, list[tuple[LegalAidBooking, str | None]]] = {s.id: [] for s in slots}
    if slots:
        rows = db.session.execute(
            select(LegalAidBooking, Worker.phone_enc).join(Worker, Worker.id == LegalAidBooking.worker_id)
            .where(LegalAidBooking.slot_id.in_(list(by_slot)), LegalAidBooking.status != "cancelled")
            .order_by(LegalAidBooking.id)).all()
        for booking, worker_phone in rows:
            by_slot[booking.slot_id].append((booking, worker_phone))
    headers = ["时段", "咨询方式", "地点", "时段状态", "预约编号", "咨询事项", "问题描述", "联系电话",
               "预约状态", "处理结果", "咨询记录"]
    out: list[list] = []
    for slot in slots:
        local_start, local_end = clock.to_local(slot.starts_at), clock.to_local(slot.ends_at)
        head = [f"{local_start:%H:%M}-{local_end:%H:%M}", MODE_LABELS.get(slot.mode, slot.mode),
                _slot_location(slot) or "", "已取消" if slot.status == "cancelled" else "正常"]
        if not by_slot[slot.id]:
            out.append(head + ["", "", "", "", "暂无预约", "", ""])
        for booking, worker_phone in by_slot[slot.id]:
            phone = (_decrypt(booking.contact_phone_enc, "legal_aid.contact_phone")
                     or _decrypt(worker_phone, "worker.phone"))
            out.append(head + [booking.id, TOPICS.get(booking.topic, booking.topic),
                               _decrypt(booking.description_enc, "legal_aid.description") or "",
                               pii.mask(phone) or "", STATUS_LABELS.get(booking.status, booking.status),
                               OUTCOME_LABELS.get(booking.outcome, "") if booking.outcome else "",
                               booking.notes or ""])
    audit("legal_aid.day_sheet.export", "legal_aid_provider", provider.id,
          organization_id=provider.organization_id, details={"date": day.isoformat(), "rows": len(out)})
    db.session.commit()
    title = f"{day.isoformat()} {provider.name}"
    return title, headers, out


# --- PIPL: the worker's data and its erasure ------------------------------------------------

def personal_data(worker_id: int) -> list[dict]:
    """The worker's bookings, with their description and contact phone decrypted."""
    bookings = db.session.scalars(select(LegalAidBooking).where(LegalAidBooking.worker_id == worker_id)
                                  .order_by(LegalAidBooking.id))
    out = []
    for b in bookings:
        out.append({"id": b.id, "status": b.status, "topic": b.topic, "topic_label": TOPICS.get(b.topic),
                    "description": _decrypt(b.description_enc, "legal_aid.description"),
                    "contact_phone": _decrypt(b.contact_phone_enc, "legal_aid.contact_phone"),
                    "provider": b.slot.provider.name, "mode": b.slot.mode,
                    "location": _slot_location(b.slot),
                    "starts_at": clock.isoformat(b.slot.starts_at), "ends_at": clock.isoformat(b.slot.ends_at),
                    "outcome": b.outcome, "cancelled_by": b.cancelled_by,
                    "created_at": clock.isoformat(b.created_at), "cancelled_at": clock.isoformat(b.cancelled_at)})
    return out


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
        _lock_row(LegalAidSlot, slot_id)
        _release(booking_id, slot_id, {"cancelled_by": "worker", "cancelled_at": now, "updated_at": now})
    db.session.execute(
        update(LegalAidBooking).where(LegalAidBooking.worker_id == worker_id)
        .values(description_enc=None, contact_phone_enc=None, notes=None, erased_at=now)
        .execution_options(synchronize_session=False))
    _expire(LegalAidBooking, LegalAidSlot)

