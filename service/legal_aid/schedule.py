"""Who gives legal-aid consultations and when (docs/contract.md §4): providers,
their slots one by one or as weekly rules, and staff cancelling a slot.

Providers (lawyers of the firm under the federation's service agreement,
volunteer legal service stations) belong to a union organization; its
legal-aid staff and admins keep their slots.

Rules and error cases:
- Slots of one provider never overlap (409 ``slot_overlap`` for one slot; a
  weekly rule skips the overlapping dates and says which).  Checked under a
  ``SELECT … FOR NO KEY UPDATE`` lock on the provider row, so two staff members
  cannot create overlapping slots at once.
- Editing a weekly rule regenerates its future slots; a slot with bookings is
  never deleted nor moved.  Staff cancelling a slot cancels its bookings and
  queues a ``booking_cancelled`` message to each worker.

Use cases return model objects (a rule carries ``upcoming_slots``, its open
future slots, counted before the commit); the output schemas shape them.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import contains_eager

from models import Organization, db
from models.legal_aid import LegalAidBooking, LegalAidProvider, LegalAidRule, LegalAidSlot
from service.auth.permissions import Scope
from service.common import clock
from service.common.audit import changes
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.common.transaction import transactional
from service.errors import ValidationFailed
from service.legal_aid import messages, store
from service.legal_aid.errors import SlotAlreadyCancelled, SlotOverlap, SlotStarted
from service.organizations.services import owning_organization


def _provider_for_schedule(scope: Scope, provider_id: int) -> LegalAidProvider:
    """The provider named in a slot or rule body, locked for the overlap check (422 if unknown)."""
    provider = store.get(LegalAidProvider, provider_id)
    if provider is None or not scope.allows(provider.organization_id):
        raise ValidationFailed({"provider_id": ["服务提供方不存在"]})
    if not provider.active:
        raise ValidationFailed({"provider_id": ["该服务提供方已停用"]})
    store.lock_row(LegalAidProvider, provider.id)
    return provider


def _location_for(provider: LegalAidProvider, mode: str, location: str | None) -> str | None:
    if mode == "offline":
        location = location or provider.address
        if not location:
            raise ValidationFailed({"location": ["线下咨询须填写地点"]})
    return location or None


def _at(day: dt.date, time: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=clock.SHANGHAI).astimezone(clock.UTC)


def _count_upcoming(rules: list[LegalAidRule]) -> list[LegalAidRule]:
    """Set each rule's ``upcoming_slots``: its open slots still to come (one query)."""
    ids = [r.id for r in rules]
    counts = dict(db.session.execute(
        select(LegalAidSlot.rule_id, func.count(LegalAidSlot.id))
        .where(LegalAidSlot.rule_id.in_(ids), LegalAidSlot.status == "open", LegalAidSlot.starts_at > clock.now())
        .group_by(LegalAidSlot.rule_id)).all()) if ids else {}
    for rule in rules:
        rule.upcoming_slots = counts.get(rule.id, 0)
    return rules


# --- providers ---------------------------------------------------------------------------

@transactional
def create_provider(scope: Scope, data: dict) -> LegalAidProvider:
    """A lawyer (with ``firm``) or a volunteer station (with ``address``) under an
    organization the caller reaches (422 ``organization_id`` otherwise)."""
    org_id = owning_organization(scope, data, noun="法律服务机构")
    now = clock.now()
    provider = LegalAidProvider(organization=db.session.get(Organization, org_id), kind=data["kind"],
                                name=data["name"], firm=data.get("firm") or None,
                                address=data.get("address") or None, phone=data.get("phone") or None,
                                active=data.get("active", True), created_at=now, updated_at=now)
    db.session.add(provider)
    db.session.flush()
    audit("legal_aid.provider.create", "legal_aid_provider", provider.id, organization_id=org_id,
          details={"name": provider.name, "kind": provider.kind})
    db.session.commit()
    return provider


def list_providers(scope: Scope, args: dict) -> dict:
    stmt = (select(LegalAidProvider).where(scope.clause(LegalAidProvider.organization_id))
            .order_by(LegalAidProvider.id))
    for key in ("kind", "organization_id", "active"):
        if args.get(key) is not None:
            stmt = stmt.where(getattr(LegalAidProvider, key) == args[key])
    return paginate(stmt, args["page"], args["per_page"])


@transactional
def update_provider(scope: Scope, provider_id: int, data: dict) -> LegalAidProvider:
    """Rename, change firm/address/phone, or (de)activate.  A deactivated provider's
    slots disappear from the worker's list and cannot be booked; existing
    bookings stay.  A lawyer keeps a firm, a station an address (422)."""
    provider = store.provider_in_scope(scope, provider_id)
    fields = ("name", "firm", "address", "phone", "active")
    before = {key: getattr(provider, key) for key in fields}
    for key in fields:
        if key in data:
            value = data[key]
            setattr(provider, key, value if value != "" else None)
    if provider.kind == "lawyer" and not provider.firm:
        raise ValidationFailed({"firm": ["律师须填写所在律师事务所"]})
    if provider.kind == "volunteer_station" and not provider.address:
        raise ValidationFailed({"address": ["志愿服务站须填写地址"]})
    provider.updated_at = clock.now()
    audit("legal_aid.provider.update", "legal_aid_provider", provider.id,
          organization_id=provider.organization_id,
          details={"name": provider.name, "changed": changes(before, {k: getattr(provider, k) for k in fields})})
    db.session.commit()
    return provider


# --- slots and weekly rules ------------------------------------------------------------

def _open_slots_between(provider_id: int, start: dt.datetime, end: dt.datetime) -> list[LegalAidSlot]:
    return list(db.session.scalars(select(LegalAidSlot).where(
        LegalAidSlot.provider_id == provider_id, LegalAidSlot.status == "open",
        LegalAidSlot.starts_at < end, LegalAidSlot.ends_at > start)))


@transactional
def create_slots(scope: Scope, data: dict) -> dict:
    """One slot, or a weekly rule and the slots it generates (see ``_generate``):
    ``{created, skipped_dates, slot, rule}``."""
    provider = _provider_for_schedule(scope, data["provider_id"])
    location = _location_for(provider, data["mode"], data.get("location"))
    now = clock.now()
    if "weekdays" in data:
        return _create_rule(provider, data, location, now)
    if data["starts_at"] <= now:
        raise ValidationFailed({"starts_at": ["开始时间应晚于当前时间"]})
    if _open_slots_between(provider.id, data["starts_at"], data["ends_at"]):
        raise SlotOverlap()
    slot = LegalAidSlot(provider=provider, starts_at=data["starts_at"], ends_at=data["ends_at"],
                        capacity=data["capacity"], booked=0, mode=data["mode"], location=location,
                        status="open", created_at=now)
    db.session.add(slot)
    db.session.flush()
    audit("legal_aid.slot.create", "legal_aid_slot", slot.id, organization_id=provider.organization_id,
          details={"provider_id": provider.id, "starts_at": clock.isoformat(slot.starts_at),
                   "ends_at": clock.isoformat(slot.ends_at), "capacity": slot.capacity})
    db.session.commit()
    return {"created": 1, "skipped_dates": [], "slot": slot, "rule": None}


def _create_rule(provider: LegalAidProvider, data: dict, location: str | None, now: dt.datetime) -> dict:
    if data["valid_until"] < clock.today_local():
        raise ValidationFailed({"until": ["结束日期不能早于今天"]})
    rule = LegalAidRule(provider=provider, weekdays=sorted(set(data["weekdays"])),
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
    _count_upcoming([rule])
    db.session.commit()
    return {"created": created, "skipped_dates": skipped, "slot": None, "rule": rule}


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
    store.expire(LegalAidSlot)
    return removed, kept


def list_rules(scope: Scope, args: dict) -> dict:
    stmt = (select(LegalAidRule).join(LegalAidRule.provider).join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidRule.provider).contains_eager(LegalAidProvider.organization))
            .where(scope.clause(LegalAidProvider.organization_id)).order_by(LegalAidRule.id))
    if args.get("provider_id"):
        stmt = stmt.where(LegalAidRule.provider_id == args["provider_id"])
    page = paginate(stmt, args["page"], args["per_page"])
    _count_upcoming(page["items"])
    return page


@transactional
def update_rule(scope: Scope, rule_id: int, data: dict) -> dict:
    """Change a weekly rule and regenerate its future slots:
    ``{rule, created, removed, kept_booked, skipped_dates}``.

    Future slots the new settings no longer make (other times, weekdays,
    capacity, mode or place) are withdrawn when they have no bookings and
    generated anew; slots with bookings keep their time (and everything else)
    and are listed in ``kept_booked``; new slots overlapping them are skipped.
    Slots the rule still makes as they are stay untouched (same ids).  422 for
    an end before the start or an until before from.
    """
    rule = store.rule_in_scope(scope, rule_id)
    provider = rule.provider
    store.lock_row(LegalAidProvider, provider.id)
    mapping = {"weekdays": "weekdays", "start": "start_time", "end": "end_time", "capacity": "capacity",
               "mode": "mode", "location": "location", "valid_from": "valid_from",
               "valid_until": "valid_until"}
    before = {key: getattr(rule, attr) for key, attr in mapping.items()}
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
          details={"changed": changes(before, {key: getattr(rule, attr) for key, attr in mapping.items()}),
                   "removed": removed, "created": created, "kept_booked": kept})
    _count_upcoming([rule])
    db.session.commit()
    return {"rule": rule, "created": created, "removed": removed, "kept_booked": kept, "skipped_dates": skipped}


@transactional
def delete_rule(scope: Scope, rule_id: int) -> dict:
    """Delete a weekly rule: its future slots without bookings go, booked ones stay
    (as stand-alone slots), past slots stay for the record: ``{removed, kept_booked}``."""
    rule = store.rule_in_scope(scope, rule_id)
    org_id = rule.provider.organization_id
    store.lock_row(LegalAidProvider, rule.provider_id)
    now = clock.now()
    removed, kept = _withdraw_future_slots(rule, now, keep_matching=False)
    db.session.execute(update(LegalAidSlot).where(LegalAidSlot.rule_id == rule_id).values(rule_id=None)
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(LegalAidRule).where(LegalAidRule.id == rule_id)
                       .execution_options(synchronize_session=False))
    audit("legal_aid.rule.delete", "legal_aid_rule", rule_id, organization_id=org_id,
          details={"removed": removed, "kept_booked": kept})
    db.session.commit()
    store.expire(LegalAidSlot, LegalAidRule)
    return {"removed": removed, "kept_booked": kept}


def list_admin_slots(scope: Scope, args: dict) -> dict:
    stmt = (select(LegalAidSlot).join(LegalAidSlot.provider).join(LegalAidProvider.organization)
            .options(contains_eager(LegalAidSlot.provider).contains_eager(LegalAidProvider.organization))
            .where(scope.clause(LegalAidProvider.organization_id)))
    stmt = store.slot_filters(stmt, args)
    if args.get("status"):
        stmt = stmt.where(LegalAidSlot.status == args["status"])
    return paginate(stmt.order_by(LegalAidSlot.starts_at, LegalAidSlot.id), args["page"], args["per_page"])


@transactional
def cancel_slot(scope: Scope, slot_id: int, reason: str) -> dict:
    """Staff cancel a slot: it leaves the worker's list, its booked bookings are
    cancelled (seats freed, reminders withdrawn) and each worker is sent a
    ``booking_cancelled`` message: ``{slot, cancelled_bookings}``.  409
    ``invalid_state`` if already cancelled, ``slot_started`` once it has begun."""
    slot = store.slot_in_scope(scope, slot_id)
    store.lock_row(LegalAidSlot, slot.id)
    db.session.refresh(slot)
    now = clock.now()
    if slot.status != "open":
        raise SlotAlreadyCancelled()
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
        messages.withdraw_reminder(b.id)
        messages.queue_slot_cancelled(b, slot, reason)
    db.session.execute(
        update(LegalAidSlot).where(LegalAidSlot.id == slot.id)
        .values(status="cancelled", cancel_reason=reason, cancelled_at=now,
                booked=LegalAidSlot.booked - cancelled).execution_options(synchronize_session=False))
    audit("legal_aid.slot.cancel", "legal_aid_slot", slot.id, organization_id=slot.provider.organization_id,
          details={"reason": reason, "cancelled_bookings": cancelled})
    store.expire(LegalAidBooking, LegalAidSlot)
    db.session.refresh(slot)
    db.session.commit()
    return {"slot": slot, "cancelled_bookings": cancelled}
