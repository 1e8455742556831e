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
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from models import db
from models.breakfast import BreakfastPoint, Checkin, RosterEntry
from models.imports import Import
from service.auth.services import WORKER_PHONE_CONTEXT
from service.breakfast.errors import NotOnRoster, PhoneRequired, RosterEntryTaken
from service.common import clock, pii
from service.common.audit import changes
from service.common.audit import record as audit
from service.common.excel import read_table
from service.common.pagination import paginate
from service.common.validators import id_number_problem, is_mainland_mobile, normalise_id_number
from service.errors import NotFound
from service.imports import records
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


# Said of a row whose phone or ID number is held by an entry outside the caller's
# organizations: the clerk learns only that the row cannot be imported, never
# that (or where) the person is on another roster.
ROW_UNAVAILABLE = "此行无法导入：手机号或身份证号不可用，如有疑问请联系上级工会"


def _refusal(scope, entry: RosterEntry | None, id_entry: RosterEntry | None) -> str | None:
    """Why a valid row may not be written: another organization's entry (said without saying
    where), or an ID number held under another phone."""
    if entry is not None and not scope.allows(entry.organization_id):
        return ROW_UNAVAILABLE
    if id_entry is not None and id_entry is not entry:
        if not scope.allows(id_entry.organization_id):
            return ROW_UNAVAILABLE
        return "该身份证号已以其他手机号登记在名册中，请先停用原记录"
    return None


def _apply_row(org_id: int, row: PreparedRow, entry: RosterEntry | None,
               now: dt.datetime) -> tuple[RosterEntry, dict | None]:
    """Create or update one entry → (entry, None) when created, else (entry, the previous
    value of each field the update changed).  An entry whose phone is indexed under an
    older key gets it again under the current one."""
    rec = row.fields
    if entry is None:
        entry = RosterEntry(organization_id=org_id, active=True, created_at=now, updated_at=now, **rec)
        db.session.add(entry)
        return entry, None
    new = {"organization_id": org_id, "name": rec["name"], "employer": rec["employer"], "active": True}
    if rec["phone_hash"] != entry.phone_hash:
        new.update({key: rec[key] for key in ("phone_enc", "phone_hash")})
    if rec["id_number_hash"] and rec["id_number_hash"] != entry.id_number_hash:
        new.update({key: rec[key] for key in ("id_number_enc", "id_number_hash", "id_number_masked")})
    before = {key: getattr(entry, key) for key, value in new.items() if getattr(entry, key) != value}
    for key, value in new.items():
        setattr(entry, key, value)
    entry.updated_at = now
    return entry, before


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


def _row_answer(row_no: int, action: str, rec: dict) -> dict:
    return {"row": row_no, "action": action, "key": rec["phone_masked"], "name": rec["name"]}


@dataclass
class _Written:
    created: list[tuple[int, int]] = field(default_factory=list)  # (row, entry id)
    updated: list[tuple[int, int, dict]] = field(default_factory=list)  # (row, entry id, previous values)
    answers: list[dict] = field(default_factory=list)


def _write_chunk(org_id: int, planned: list[tuple[int, PreparedRow, RosterEntry | None]], scope, now: dt.datetime,
                 written: _Written, errors: list[dict]) -> None:
    """Write one chunk in a savepoint; when it hits a unique index (the same phone imported
    at the same moment elsewhere) replay it row by row, each looked up again in its own savepoint."""
    done: list[tuple[int, PreparedRow, RosterEntry, dict | None]] = []
    try:
        with db.session.begin_nested():
            done = [(row_no, row, *_apply_row(org_id, row, entry, now)) for row_no, row, entry in planned]
            db.session.flush()
    except IntegrityError:
        done = []
        for row_no, row, _ in planned:
            try:
                with db.session.begin_nested():
                    holders, id_holders = _lookups([row])
                    entry = holders.get(0)
                    problem = _refusal(scope, entry, id_holders.get(0))
                    if problem is not None:
                        errors.append({"row": row_no, "message": problem})
                        continue
                    done.append((row_no, row, *_apply_row(org_id, row, entry, now)))
                    db.session.flush()
            except IntegrityError:
                errors.append({"row": row_no, "message": "该手机号正被同时导入，请稍后重试此行"})
    for row_no, row, entry, before in done:
        if before is None:
            written.created.append((row_no, entry.id))
            written.answers.append(_row_answer(row_no, "created", row.fields))
        else:
            written.updated.append((row_no, entry.id, before))
            written.answers.append(_row_answer(row_no, "updated", row.fields))


def import_roster_rows(scope, org_id: int, rows, now: dt.datetime, *, dry_run: bool = False) -> tuple[dict, _Written]:
    """Upsert rows ``(row_number, {name, phone, employer, id_number?})`` by phone →
    (``{created, updated, errors, rows}``, what was written).

    A bad row is reported in ``errors`` and never stops the good ones: rows
    are validated first, then looked up and written in chunks of 500 (two
    look-up queries per chunk).  An entry of another organization outside
    the caller's scope is never touched.  Importing an entry again
    reactivates it.  ``dry_run``: the same answer, nothing written.  Does not commit.
    """
    errors: list[dict] = []
    written = _Written()
    seen_phone: dict[str, int] = {}
    seen_id: dict[str, int] = {}
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
        planned = []
        for i, (row_no, row) in enumerate(prepared):
            entry = holders.get(i)
            problem = _refusal(scope, entry, id_holders.get(i))
            if problem is not None:
                errors.append({"row": row_no, "message": problem})
            elif dry_run:
                written.answers.append(_row_answer(row_no, "created" if entry is None else "updated", row.fields))
            else:
                planned.append((row_no, row, entry))
        if planned:
            _write_chunk(org_id, planned, scope, now, written, errors)
    errors.sort(key=lambda e: e["row"])
    answers = sorted(written.answers, key=lambda a: a["row"])
    created = sum(1 for a in answers if a["action"] == "created")
    return {"created": created, "updated": len(answers) - created, "errors": errors, "rows": answers}, written


def import_roster(scope, storage, organization_id: int | None, *, dry_run: bool = False) -> dict:
    """Import an uploaded ``.xlsx``/``.csv`` (UTF-8 or GBK) roster into ``organization_id``
    (or the caller's single top organization); 422 when the file is unreadable or
    lacks a required column, per-row errors otherwise.  A real import is recorded
    (``service/imports/records.py``) so that it can be undone; ``dry_run`` writes nothing."""
    given = {} if organization_id is None else {"organization_id": organization_id}
    org_id = owning_organization(scope, given, noun="早餐名册")
    _, rows = read_table(storage, ROSTER_ALIASES, ROSTER_REQUIRED)
    now = clock.now()
    result, written = import_roster_rows(scope, org_id, rows, now, dry_run=dry_run)
    if dry_run:
        db.session.rollback()
        return {"dry_run": True, "import_id": None, **result}
    filename = (getattr(storage, "filename", None) or "")[:100]
    import_id = records.record("roster", org_id, filename, now, refused=len(result["errors"]),
                               created=written.created, updated=written.updated)
    audit("breakfast.roster.import", "organization", org_id, organization_id=org_id,
          details={"import_id": import_id, "created": result["created"], "updated": result["updated"],
                   "errors": len(result["errors"]), "file": filename})
    db.session.commit()
    return {"dry_run": False, "import_id": import_id, **result}


def undo_import(scope, entry: Import, now: dt.datetime) -> records.UndoOutcome:
    """Take back a roster import, batch by batch, in the caller's transaction: the entries it
    created are deleted, those it updated get their previous values back.  An entry changed
    since (claimed by a worker, suspended, erased, imported again: its ``updated_at`` is no
    longer the import's), deleted meanwhile, or outside ``scope`` (now or once restored)
    is left as it is and reported."""
    outcome = records.UndoOutcome()
    for batch in records.item_batches(entry.id):
        stmt = select(RosterEntry.id, RosterEntry.organization_id, RosterEntry.updated_at, RosterEntry.worker_id) \
            .where(RosterEntry.id.in_([item.record_id for item in batch]))
        current = {row.id: row for row in db.session.execute(stmt.with_for_update())}
        remove: list[int] = []
        restore: list[dict] = []
        for item in batch:
            row = current.get(item.record_id)
            if row is None or (item.action == "updated" and item.before is None):
                outcome.skip(item.row, "名册记录已被删除")
            elif row.updated_at != entry.created_at or (item.action == "created" and row.worker_id is not None):
                outcome.skip(item.row, "名册记录在导入后又有变动（如职工已认证、已停用）")
            elif not scope.allows(row.organization_id) or not scope.allows(
                    (item.before or {}).get("organization_id", row.organization_id)):
                outcome.skip(item.row, "名册记录不在您的管辖范围内")
            elif item.action == "created":
                remove.append(row.id)
            else:
                restore.append({"id": row.id, **(item.before or {}), "updated_at": now})
        if remove:
            db.session.execute(delete(RosterEntry).where(RosterEntry.id.in_(remove))
                               .execution_options(synchronize_session=False))
        for fields in sorted({tuple(sorted(r)) for r in restore}):
            db.session.execute(update(RosterEntry), [r for r in restore if tuple(sorted(r)) == fields])
        outcome.removed += len(remove)
        outcome.restored += len(restore)
    return outcome


# --- the template ----------------------------------------------------------------

TEMPLATE_HEADERS = ["姓名", "手机号", "单位", "身份证号"]
TEMPLATE_EXAMPLE = ["张三（示例）", "13800000000", "扬州市环境卫生管理处", ""]


def template_sheets() -> dict:
    """The blank roster template: Chinese headers and one example row, then how to fill each column."""
    notes = [
        ["姓名", "必填，不超过 64 个字"],
        ["手机号", "必填。11 位中国大陆手机号，职工在小程序中用这个号码认证；手机号已在名册中时更新该记录"],
        ["单位", "必填。环卫所、清扫公司等，不超过 100 个字"],
        ["身份证号", "选填。18 位居民身份证号，末位可为 X"],
    ]
    return {"名册": (TEMPLATE_HEADERS, [TEMPLATE_EXAMPLE]), "填写说明": (["列", "填写说明"], notes)}


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
