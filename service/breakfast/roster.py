"""The breakfast roster (早餐名册): who may eat, as imported by staff, and the
worker's claim of their entry.

- One roster entry per phone: unique ``phone_hash`` (partial: erased entries
  hold none), so an import upserts by phone; phone and ID number are stored
  encrypted, with a blind index for look-ups and a masked copy for display.
- One mini-program user per roster entry and one entry per user: unique
  ``breakfast_roster.worker_id``.
- An inactive entry can neither check in nor be claimed.

Also the feature's worker-wide hooks (``GET /me``, ``GET /me/data``,
``DELETE /me``), listed in ``service/worker_data.py``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from models import db
from models.breakfast import BreakfastPoint, Checkin, RosterEntry
from service.auth.services import WORKER_PHONE_CONTEXT
from service.breakfast.errors import NotOnRoster, PhoneRequired, RosterEntryTaken
from service.common import clock, pii
from service.common.audit import changes
from service.common.audit import record as audit
from service.common.excel import read_table
from service.common.pagination import paginate
from service.common.validators import id_number_problem, is_mainland_mobile, normalise_id_number
from service.errors import NotFound
from service.organizations.services import owning_organization

IMPORT_CHUNK = 500
PHONE_CONTEXT = "breakfast_roster.phone"  # the encryption contexts of an entry's personal data
ID_CONTEXT = "breakfast_roster.id_number"

ROSTER_ALIASES = {
    "name": ["name", "姓名"],
    "phone": ["phone", "mobile", "手机", "手机号码", "联系电话", "手机号"],
    "employer": ["employer", "工作单位", "所在单位", "单位"],
    "id_number": ["id_number", "idcard", "身份证", "身份证号码", "身份证号"],
}
ROSTER_REQUIRED = ("name", "phone", "employer")


# --- the import ------------------------------------------------------------------

def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _normalise_phone(value) -> str:
    phone = _cell(value).replace(" ", "").replace("-", "")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif len(phone) == 13 and phone.startswith("86"):
        phone = phone[2:]
    return phone


@dataclass(frozen=True)
class PreparedRow:
    """A valid spreadsheet row: the entry's columns (personal data sealed) and the
    blind indexes its phone and ID number may be stored under (every configured key)."""

    fields: dict
    phone_keys: list[str]
    id_keys: list[str]


def prepare_roster_row(values: dict, today: dt.date) -> tuple[str | None, PreparedRow | None]:
    """Validate one spreadsheet row → (Chinese problem, None) or (None, the row with PII protected)."""
    name = _cell(values.get("name"))
    phone = _normalise_phone(values.get("phone"))
    employer = _cell(values.get("employer"))
    id_number = normalise_id_number(_cell(values.get("id_number")))
    problems = []
    if not name:
        problems.append("姓名不能为空")
    elif len(name) > 64:
        problems.append("姓名不能超过 64 个字")
    if not phone:
        problems.append("手机号不能为空")
    elif not is_mainland_mobile(phone):
        problems.append("手机号应为 11 位中国大陆手机号")
    if not employer:
        problems.append("单位不能为空")
    elif len(employer) > 100:
        problems.append("单位名称不能超过 100 个字")
    if id_number:
        problem = id_number_problem(id_number, today)
        if problem:
            problems.append(problem)
    if problems:
        return "；".join(problems), None
    return None, PreparedRow({
        "name": name, "employer": employer,
        "phone_enc": pii.encrypt(phone, PHONE_CONTEXT),
        "phone_hash": pii.blind_index(phone, "phone"),
        "phone_masked": pii.mask(phone),
        "id_number_enc": pii.encrypt(id_number, ID_CONTEXT) if id_number else None,
        "id_number_hash": pii.blind_index(id_number, "id_number") if id_number else None,
        "id_number_masked": pii.mask(id_number) if id_number else None,
    }, pii.blind_indexes(phone, "phone"), pii.blind_indexes(id_number, "id_number") if id_number else [])


class _RowRefused(Exception):
    pass


# Said of a row whose phone or ID number is held by an entry outside the caller's
# organizations: the clerk learns only that the row cannot be imported, never
# that (or where) the person is on another roster.
ROW_UNAVAILABLE = "此行无法导入：手机号或身份证号不可用，如有疑问请联系上级工会"


def _apply_row(scope, org_id: int, row: PreparedRow, entry: RosterEntry | None, id_entry: RosterEntry | None,
               now: dt.datetime) -> str:
    """Create or update one entry; returns "created" / "updated", or raises _RowRefused.

    ``entry`` holds the row's phone; ``id_entry`` is the active entry holding its ID number."""
    rec = row.fields
    if entry is not None and not scope.allows(entry.organization_id):
        raise _RowRefused(ROW_UNAVAILABLE)
    if id_entry is not None and id_entry is not entry:
        if not scope.allows(id_entry.organization_id):
            raise _RowRefused(ROW_UNAVAILABLE)
        raise _RowRefused("该身份证号已以其他手机号登记在名册中，请先停用原记录")
    if entry is None:
        db.session.add(RosterEntry(organization_id=org_id, active=True, created_at=now, updated_at=now, **rec))
        return "created"
    entry.organization_id = org_id
    entry.name = rec["name"]
    entry.employer = rec["employer"]
    entry.phone_enc = rec["phone_enc"]
    entry.phone_hash = rec["phone_hash"]
    if rec["id_number_hash"]:
        entry.id_number_enc = rec["id_number_enc"]
        entry.id_number_hash = rec["id_number_hash"]
        entry.id_number_masked = rec["id_number_masked"]
    entry.active = True
    entry.updated_at = now
    return "updated"


def _lookups(rows: list[PreparedRow]) -> tuple[dict[int, RosterEntry], dict[int, RosterEntry]]:
    """By position in ``rows``: the entry holding the row's phone, and the active entry
    holding its ID number (matched under every configured key)."""
    by_phone_key = {key: i for i, row in enumerate(rows) for key in row.phone_keys}
    by_id_key = {key: i for i, row in enumerate(rows) for key in row.id_keys}
    holders: dict[int, RosterEntry] = {}
    if by_phone_key:
        holders = {by_phone_key[e.phone_hash]: e for e in db.session.scalars(
            select(RosterEntry).where(RosterEntry.phone_hash.in_(list(by_phone_key))))}
    id_holders: dict[int, RosterEntry] = {}
    if by_id_key:
        id_holders = {by_id_key[e.id_number_hash]: e for e in db.session.scalars(
            select(RosterEntry).where(RosterEntry.id_number_hash.in_(list(by_id_key)),
                                      RosterEntry.active.is_(True)))}
    return holders, id_holders


def import_roster_rows(scope, org_id: int, rows) -> dict:
    """Upsert rows ``(row_number, {name, phone, employer, id_number?})`` by phone.

    A bad row is reported in ``errors`` and never stops the good ones: rows
    are validated first, then applied in chunks of 500 with two look-up
    queries per chunk; a chunk that hits a unique index (a concurrent import
    of the same phone) is replayed row by row, each in a savepoint.  An entry
    of another organization outside the caller's scope is never touched, and
    its row is refused without saying why.  Importing an entry again
    reactivates it.  Does not commit.
    """
    created = updated = 0
    errors: list[dict] = []
    seen_phone: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    now = clock.now()
    day = clock.today_local()
    rows = iter(rows)
    while True:
        chunk = list(islice(rows, IMPORT_CHUNK))
        if not chunk:
            break
        prepared: list[tuple[int, PreparedRow]] = []
        for row_no, values in chunk:
            problem, row = prepare_roster_row(values, day)
            rec = row.fields if row is not None else {}
            if problem is None and rec["phone_hash"] in seen_phone:
                problem = f"手机号与第 {seen_phone[rec['phone_hash']]} 行重复"
            if problem is None and rec["id_number_hash"] and rec["id_number_hash"] in seen_id:
                problem = f"身份证号与第 {seen_id[rec['id_number_hash']]} 行重复"
            if problem is not None:
                errors.append({"row": row_no, "message": problem})
                continue
            seen_phone[rec["phone_hash"]] = row_no
            if rec["id_number_hash"]:
                seen_id[rec["id_number_hash"]] = row_no
            prepared.append((row_no, row))
        holders, id_holders = _lookups([row for _, row in prepared])
        outcome: list[tuple[int, str]] = []
        try:
            with db.session.begin_nested():
                for i, (row_no, row) in enumerate(prepared):
                    try:
                        outcome.append((row_no, _apply_row(scope, org_id, row, holders.get(i), id_holders.get(i),
                                                           now)))
                    except _RowRefused as refused:
                        outcome.append((row_no, "error:" + str(refused)))
                db.session.flush()
        except IntegrityError:
            outcome = []
            for row_no, row in prepared:
                try:
                    with db.session.begin_nested():
                        holders, id_holders = _lookups([row])
                        outcome.append((row_no, _apply_row(scope, org_id, row, holders.get(0), id_holders.get(0),
                                                           now)))
                        db.session.flush()
                except _RowRefused as refused:
                    outcome.append((row_no, "error:" + str(refused)))
                except IntegrityError:
                    outcome.append((row_no, "error:该手机号正被同时导入，请稍后重试此行"))
        for row_no, result in outcome:
            if result == "created":
                created += 1
            elif result == "updated":
                updated += 1
            else:
                errors.append({"row": row_no, "message": result[len("error:"):]})
    errors.sort(key=lambda e: e["row"])
    return {"created": created, "updated": updated, "errors": errors}


def import_roster(scope, storage, organization_id: int | None) -> dict:
    """Import an uploaded ``.xlsx``/``.csv`` (UTF-8 or GBK) roster into ``organization_id``
    (or the caller's single top organization); 422 when the file is unreadable or
    lacks a required column, per-row errors otherwise."""
    given = {} if organization_id is None else {"organization_id": organization_id}
    org_id = owning_organization(scope, given, noun="早餐名册")
    _, rows = read_table(storage, ROSTER_ALIASES, ROSTER_REQUIRED)
    result = import_roster_rows(scope, org_id, rows)
    audit("breakfast.roster.import", "organization", org_id, organization_id=org_id,
          details={"created": result["created"], "updated": result["updated"], "errors": len(result["errors"]),
                   "file": (getattr(storage, "filename", None) or "")[:100]})
    db.session.commit()
    return result


def list_roster(scope, args: dict) -> dict:
    stmt = select(RosterEntry).where(scope.clause(RosterEntry.organization_id), RosterEntry.erased_at.is_(None))
    q = (args.get("q") or "").strip()
    if q:
        if is_mainland_mobile(q):
            stmt = stmt.where(RosterEntry.phone_hash.in_(pii.blind_indexes(q, "phone")))
        else:
            stmt = stmt.where(RosterEntry.name.contains(q, autoescape=True))
    if args.get("active") is not None:
        stmt = stmt.where(RosterEntry.active.is_(args["active"]))
    if args.get("linked") is not None:
        stmt = stmt.where(RosterEntry.worker_id.is_not(None) if args["linked"] else RosterEntry.worker_id.is_(None))
    if args.get("organization_id") is not None:
        stmt = stmt.where(RosterEntry.organization_id == args["organization_id"])
    return paginate(stmt.order_by(RosterEntry.id), args["page"], args["per_page"])


def update_roster_entry(scope, entry_id: int, data: dict) -> RosterEntry:
    """Deactivate (or reactivate) an entry; an inactive entry cannot check in or be claimed.
    404 outside the caller's scope or once erased."""
    entry = db.session.get(RosterEntry, entry_id)
    if entry is None or entry.erased_at is not None or not scope.allows(entry.organization_id):
        raise NotFound("名册记录不存在")
    if entry.active != data["active"]:
        audit("breakfast.roster.update", "breakfast_roster", entry.id, organization_id=entry.organization_id,
              details={"changed": changes({"active": entry.active}, {"active": data["active"]})})
        entry.active = data["active"]
        entry.updated_at = clock.now()
    db.session.commit()
    return entry


# --- workers: eligibility --------------------------------------------------------

def claim_eligibility(worker) -> dict:
    """Link the caller to the active roster entry holding their WeChat-verified phone.

    409 ``phone_required`` without a bound phone; 404 ``not_on_roster`` when no
    active entry has it; 409 ``roster_entry_taken`` when another user holds
    the entry.  Claiming again is harmless.  A user who held another entry
    (their phone changed) is moved to the new one.
    """
    if not worker.phone_hash:
        raise PhoneRequired()
    phone_keys = pii.matching_indexes(worker.phone_hash, worker.phone_enc, WORKER_PHONE_CONTEXT, "phone")
    entry = db.session.scalar(select(RosterEntry).where(RosterEntry.phone_hash.in_(phone_keys),
                                                        RosterEntry.active.is_(True)))
    if entry is None:
        raise NotOnRoster()
    result = {"eligible": True, "employer": entry.employer}
    if entry.worker_id == worker.id:
        return result
    if entry.worker_id is not None:
        raise RosterEntryTaken()
    entry_id, worker_id = entry.id, worker.id
    now = clock.now()
    try:
        db.session.execute(update(RosterEntry).where(RosterEntry.worker_id == worker_id, RosterEntry.id != entry_id)
                           .values(worker_id=None, updated_at=now), execution_options={"synchronize_session": False})
        linked = db.session.execute(
            update(RosterEntry).where(RosterEntry.id == entry_id, RosterEntry.worker_id.is_(None))
            .values(worker_id=worker_id, linked_at=now, updated_at=now),
            execution_options={"synchronize_session": False})
        if linked.rowcount == 1:
            db.session.commit()
            return result
    except IntegrityError:  # this user claimed another entry at the same moment
        pass
    db.session.rollback()
    holder = db.session.scalar(select(RosterEntry.worker_id).where(RosterEntry.id == entry_id))
    if holder != worker_id:
        raise RosterEntryTaken()
    return result


def _is_eligible(worker_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(RosterEntry.worker_id == worker_id,
                                                        RosterEntry.active.is_(True)))))


# --- the worker-wide hooks (GET /me, GET /me/data, DELETE /me) ------------------------

def profile_fields(worker) -> dict:
    return {"breakfast_eligible": _is_eligible(worker.id)}


def personal_data(worker_id: int) -> dict:
    entry = db.session.scalar(select(RosterEntry).where(RosterEntry.worker_id == worker_id))
    roster = None
    if entry is not None:
        roster = {"id": entry.id, "name": entry.name,
                  "phone": pii.decrypt(entry.phone_enc, PHONE_CONTEXT),
                  "id_number": pii.decrypt(entry.id_number_enc, ID_CONTEXT),
                  "employer": entry.employer, "organization_id": entry.organization_id, "active": entry.active,
                  "linked_at": clock.isoformat(entry.linked_at)}
    rows = db.session.execute(
        select(Checkin.id, Checkin.serving_date, Checkin.checked_in_at, Checkin.distance_m, BreakfastPoint.name)
        .join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
        .where(Checkin.worker_id == worker_id).order_by(Checkin.serving_date)).all()
    return {"roster": roster, "checkins": [
        {"id": r.id, "point_name": r.name, "serving_date": r.serving_date.isoformat(),
         "checked_in_at": clock.isoformat(r.checked_in_at), "distance_m": r.distance_m} for r in rows]}


def erase_personal_data(worker_id: int) -> None:
    """Unlink the worker and wipe the roster entry's personal data.

    Check-ins stay (the monthly counts and distinct workers stay right, by
    roster entry) but no longer point at the person: their ``worker_id`` is
    cleared and the entry keeps neither name, phone nor ID number.
    """
    now = clock.now()
    db.session.execute(update(Checkin).where(Checkin.worker_id == worker_id).values(worker_id=None),
                       execution_options={"synchronize_session": False})
    db.session.execute(
        update(RosterEntry).where(RosterEntry.worker_id == worker_id)
        .values(worker_id=None, name=None, phone_enc=None, phone_hash=None, phone_masked=None, id_number_enc=None,
                id_number_hash=None, id_number_masked=None, active=False, erased_at=now, updated_at=now),
        execution_options={"synchronize_session": False})
