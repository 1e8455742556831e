"""Free breakfast for sanitation workers (环卫工人免费早餐): the use cases.

Points, the roster and its import, the eligibility claim, the check-in at
5:40 in the morning, and the monthly figures the union orders rice, flour
and oil by.  Every staff write is audit-logged in its own transaction.

Invariants kept by the database, not only here:
- one check-in per roster entry per serving day: unique
  ``(roster_entry_id, serving_date)``; and one per user per serving day,
  unique ``(worker_id, serving_date)``, for a user who moved to a new entry
  when their phone changed;
- never more than the quota per point per day: the counter row
  ``breakfast_daily_counts`` is incremented in the same atomic write as the
  check-in insert, and ``CHECK served <= quota`` refuses the increment past
  the quota, so a refused check-in never uses up quota (``checkin.py``);
- one mini-program user per roster entry: unique ``breakfast_roster.worker_id``;
- one roster entry per phone: unique ``phone_hash`` (partial: erased entries
  hold none).
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
from itertools import islice

from flask import current_app
from sqlalchemy import distinct, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from models import Organization, db
from models.breakfast import BreakfastPoint, Checkin, DailyCount, RosterEntry
from service.breakfast import qr
from service.common import clock, pii
from service.common.audit import record as audit
from service.common.excel import read_table, xlsx_response
from service.common.pagination import paginate
from service.common.validators import id_number_problem, is_mainland_mobile, normalise_id_number
from service.errors import NotFound, ValidationFailed, error_type

WXACODE_PAGE = "pages/breakfast/checkin"
IMPORT_CHUNK = 500

QrInvalid = error_type("qr_invalid", 422, "二维码无效，请扫描早餐点现场张贴的二维码")
NotEligible = error_type("not_eligible", 403, "您还不在免费早餐名册中，请先在小程序中完成资格认证")
PointInactive = error_type("point_inactive", 409, "该早餐点暂停供应")
OutsideServingWindow = error_type("outside_serving_window", 409, "现在不在早餐供应时间内")
TooFarFromPoint = error_type("too_far_from_point", 422, "您不在早餐点附近，请到早餐点后再扫码")
AlreadyCheckedIn = error_type("already_checked_in", 409, "您今天已经领过早餐了，每人每天限领一份")
DailyQuotaReached = error_type("daily_quota_reached", 409, "该早餐点今日早餐已领完")
NotOnRoster = error_type("not_on_roster", 404, "免费早餐名册中没有您绑定的手机号，请联系所在单位或工会登记")
PhoneRequired = error_type("phone_required", 409, "请先授权绑定微信手机号")
RosterEntryTaken = error_type("roster_entry_taken", 409, "该手机号的名册记录已被其他微信账号认领，请联系工会处理")

ROSTER_ALIASES = {
    "name": ["name", "姓名"],
    "phone": ["phone", "mobile", "手机", "手机号码", "联系电话", "手机号"],
    "employer": ["employer", "工作单位", "所在单位", "单位"],
    "id_number": ["id_number", "idcard", "身份证", "身份证号码", "身份证号"],
}
ROSTER_REQUIRED = ("name", "phone", "employer")


# --- small helpers ---------------------------------------------------------------

def mask_name(name: str | None) -> str | None:
    """``张三`` → ``张*``, ``欧阳小明`` → ``欧***``."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """First day of ``month`` and first day of the next month."""
    start = month.replace(day=1)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    return start, nxt


def this_month() -> dt.date:
    return clock.today_local().replace(day=1)


def window_text(point) -> str:
    """``05:30–08:30``: a point's serving window as workers and clerks read it."""
    return f"{point.serving_start:%H:%M}–{point.serving_end:%H:%M}"


# --- organizations ---------------------------------------------------------------

def _resolve_org(scope, org_id: int | None, field: str = "organization_id") -> int:
    """The organization a new point or roster belongs to.

    Given: it must exist and be within the caller's scope (else 422).  Not
    given: the single top organization the caller reaches (the federation's
    root for a federation-wide role); 422 when that is ambiguous.
    """
    if org_id is not None:
        org = db.session.get(Organization, org_id)
        if org is None or not scope.allows(org.id):
            raise ValidationFailed({field: ["工会组织不存在或不在您的管辖范围内"]})
        return org.id
    if scope.org_ids is None:
        tops = list(db.session.scalars(select(Organization.id).where(Organization.parent_id.is_(None)).limit(2)))
    else:
        rows = db.session.execute(select(Organization.id, Organization.parent_id)
                                  .where(Organization.id.in_(scope.org_ids))).all()
        tops = [oid for oid, parent in rows if parent not in scope.org_ids]
    if len(tops) != 1:
        raise ValidationFailed({field: ["请选择所属工会组织"]})
    return tops[0]


# --- points --------------------------------------------------------------------

def get_point(scope, point_id: int) -> BreakfastPoint:
    """The point, or 404 when it does not exist or lies outside the caller's scope."""
    point = db.session.get(BreakfastPoint, point_id)
    if point is None or not scope.allows(point.organization_id):
        raise NotFound("早餐点不存在")
    return point


def list_points(scope, args: dict) -> dict:
    stmt = select(BreakfastPoint).where(scope.clause(BreakfastPoint.organization_id))
    if args.get("active") is not None:
        stmt = stmt.where(BreakfastPoint.active.is_(args["active"]))
    if args.get("organization_id") is not None:
        stmt = stmt.where(BreakfastPoint.organization_id == args["organization_id"])
    return paginate(stmt.order_by(BreakfastPoint.id), args["page"], args["per_page"])


def create_point(scope, data: dict) -> BreakfastPoint:
    """A new breakfast point in an organization the caller reaches (422 otherwise)."""
    now = clock.now()
    org_id = _resolve_org(scope, data.get("organization_id"))
    point = BreakfastPoint(
        organization_id=org_id, name=data["name"].strip(), address=data["address"].strip(),
        lat=data["lat"], lng=data["lng"], serving_start=data["serving_start"], serving_end=data["serving_end"],
        daily_quota=data["daily_quota"], geofence_m=data.get("geofence_m"), active=data.get("active", True),
        qr_generation=1, created_at=now, updated_at=now)
    db.session.add(point)
    db.session.flush()
    audit("breakfast.point.create", "breakfast_point", point.id, organization_id=org_id,
          details={"name": point.name, "daily_quota": point.daily_quota})
    db.session.commit()
    return point


def update_point(scope, point_id: int, data: dict) -> BreakfastPoint:
    """Change a point.  The window must stay ordered (422); a new quota applies
    to today's counter at once, never below what was already served today."""
    point = get_point(scope, point_id)
    if "organization_id" in data and data["organization_id"] != point.organization_id:
        data["organization_id"] = _resolve_org(scope, data["organization_id"])
    start = data.get("serving_start", point.serving_start)
    end = data.get("serving_end", point.serving_end)
    if end <= start:
        raise ValidationFailed({"serving_end": ["结束时间应晚于开始时间"]})
    changed = {}
    for key, value in data.items():
        if isinstance(value, str):
            value = value.strip()
        if getattr(point, key) != value:
            before = getattr(point, key)
            changed[key] = [_jsonable(before), _jsonable(value)]
            setattr(point, key, value)
    if changed:
        point.updated_at = clock.now()
        point.version = BreakfastPoint.version + 1
        if "daily_quota" in changed:
            q = point.daily_quota
            db.session.execute(
                update(DailyCount)
                .where(DailyCount.point_id == point.id, DailyCount.serving_date == clock.today_local())
                .values(quota=func.max(DailyCount.served, q) if db.engine.dialect.name == "sqlite"
                        else func.greatest(DailyCount.served, q)))
        audit("breakfast.point.update", "breakfast_point", point.id, organization_id=point.organization_id,
              details={"changed": changed})
    db.session.commit()
    return point


def _jsonable(value):
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return value


def qr_info(scope, point_id: int) -> dict:
    point = get_point(scope, point_id)
    return _qr_payload(point)


def _qr_payload(point: BreakfastPoint) -> dict:
    base = f"/api/v1/admin/breakfast/points/{point.id}/qr"
    version = qr.current_key_version()
    return {"point_id": point.id, "scene": qr.make_scene(point.id, point.qr_generation),
            "image_url": f"{base}/image.png", "poster_url": f"{base}/poster.svg",
            "wxacode_url": f"{base}/wxacode.png", "page": WXACODE_PAGE,
            "key_version": version, "qr_generation": point.qr_generation}


def rotate_qr(scope, point_id: int) -> dict:
    """Invalidate the point's printed codes: its next scene is signed with a new generation."""
    point = get_point(scope, point_id)
    db.session.execute(update(BreakfastPoint).where(BreakfastPoint.id == point.id)
                       .values(qr_generation=BreakfastPoint.qr_generation + 1, version=BreakfastPoint.version + 1,
                               updated_at=clock.now()))
    db.session.refresh(point)
    audit("breakfast.point.qr_rotate", "breakfast_point", point.id, organization_id=point.organization_id,
          details={"qr_generation": point.qr_generation})
    db.session.commit()
    return _qr_payload(point)


def qr_png(scope, point_id: int) -> bytes:
    point = get_point(scope, point_id)
    return qr.png(qr.make_scene(point.id, point.qr_generation))


def qr_poster(scope, point_id: int) -> str:
    point = get_point(scope, point_id)
    return qr.poster_svg(qr.make_scene(point.id, point.qr_generation), point.name, point.address,
                         window_text(point))


def qr_wxacode(scope, point_id: int) -> bytes:
    """The mini-program code from WeChat (``wxacode.getUnlimited``); WeChat's
    outages surface as 503 ``wechat_unavailable``."""
    from service.wechat_gateway import wechat_gateway

    point = get_point(scope, point_id)
    return wechat_gateway.get_wxa_code_unlimited(qr.make_scene(point.id, point.qr_generation), page=WXACODE_PAGE)


def today(scope, point_id: int) -> dict:
    """Live count of today's serving day (Asia/Shanghai) and the quota left."""
    point = get_point(scope, point_id)
    day = clock.today_local()
    row = db.session.execute(select(DailyCount.served, DailyCount.quota)
                             .where(DailyCount.point_id == point.id, DailyCount.serving_date == day)).first()
    served, quota = (row[0], row[1]) if row else (0, point.daily_quota)
    now_t = clock.local_now().time()
    return {"point_id": point.id, "name": point.name, "serving_date": day, "served": served, "quota": quota,
            "quota_left": max(quota - served, 0), "serving_start": point.serving_start,
            "serving_end": point.serving_end, "active": point.active,
            "serving_now": point.active and point.serving_start <= now_t < point.serving_end}


# --- roster --------------------------------------------------------------------

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


def prepare_roster_row(values: dict, today: dt.date) -> tuple[str | None, dict | None]:
    """Validate one spreadsheet row → (Chinese problem, None) or (None, fields with PII protected)."""
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
    return None, {
        "name": name, "employer": employer,
        "phone_enc": pii.encrypt(phone, "breakfast_roster.phone"),
        "phone_hash": pii.blind_index(phone, "phone"),
        "phone_masked": pii.mask(phone),
        "id_number_enc": pii.encrypt(id_number, "breakfast_roster.id_number") if id_number else None,
        "id_number_hash": pii.blind_index(id_number, "id_number") if id_number else None,
        "id_number_masked": pii.mask(id_number) if id_number else None,
    }


class _RowRefused(Exception):
    pass


def _apply_row(scope, org_id: int, rec: dict, entry: RosterEntry | None, id_owner: str | None,
               now: dt.datetime) -> str:
    """Create or update one entry; returns "created" / "updated", or raises _RowRefused."""
    if entry is not None and not scope.allows(entry.organization_id):
        raise _RowRefused("该手机号已登记在其他工会组织的早餐名册中")
    if rec["id_number_hash"] and id_owner is not None and id_owner != rec["phone_hash"]:
        raise _RowRefused("该身份证号已以其他手机号登记在名册中，请先停用原记录")
    if entry is None:
        db.session.add(RosterEntry(organization_id=org_id, active=True, created_at=now, updated_at=now, **rec))
        return "created"
    entry.organization_id = org_id
    entry.name = rec["name"]
    entry.employer = rec["employer"]
    entry.phone_enc = rec["phone_enc"]
    if rec["id_number_hash"]:
        entry.id_number_enc = rec["id_number_enc"]
        entry.id_number_hash = rec["id_number_hash"]
        entry.id_number_masked = rec["id_number_masked"]
    entry.active = True
    entry.updated_at = now
    return "updated"


def _lookups(phone_hashes: list[str], id_hashes: list[str]) -> tuple[dict, dict]:
    existing = {}
    if phone_hashes:
        existing = {e.phone_hash: e for e in db.session.scalars(
            select(RosterEntry).where(RosterEntry.phone_hash.in_(phone_hashes)))}
    id_owner = {}
    if id_hashes:
        id_owner = {h: p for h, p in db.session.execute(
            select(RosterEntry.id_number_hash, RosterEntry.phone_hash)
            .where(RosterEntry.id_number_hash.in_(id_hashes), RosterEntry.active.is_(True)))}
    return existing, id_owner


def import_roster_rows(scope, org_id: int, rows) -> dict:
    """Upsert rows ``(row_number, {name, phone, employer, id_number?})`` by phone.

    A bad row is reported in ``errors`` and never stops the good ones: rows
    are validated first, then applied in chunks of 500 with two look-up
    queries per chunk; a chunk that hits a unique index (a concurrent import
    of the same phone) is replayed row by row, each in a savepoint.  An entry
    of another organization outside the caller's scope is never touched.
    Importing an entry again reactivates it.  Does not commit.
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
        prepared = []
        for row_no, values in chunk:
            problem, rec = prepare_roster_row(values, day)
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
            prepared.append((row_no, rec))
        existing, id_owner = _lookups([r["phone_hash"] for _, r in prepared],
                                      [r["id_number_hash"] for _, r in prepared if r["id_number_hash"]])
        outcome: list[tuple[int, str]] = []
        try:
            with db.session.begin_nested():
                for row_no, rec in prepared:
                    try:
                        outcome.append((row_no, _apply_row(scope, org_id, rec, existing.get(rec["phone_hash"]),
                                                           id_owner.get(rec["id_number_hash"]), now)))
                    except _RowRefused as refused:
                        outcome.append((row_no, "error:" + str(refused)))
                db.session.flush()
        except IntegrityError:
            outcome = []
            for row_no, rec in prepared:
                try:
                    with db.session.begin_nested():
                        existing, id_owner = _lookups([rec["phone_hash"]],
                                                      [rec["id_number_hash"]] if rec["id_number_hash"] else [])
                        outcome.append((row_no, _apply_row(scope, org_id, rec, existing.get(rec["phone_hash"]),
                                                           id_owner.get(rec["id_number_hash"]), now)))
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
    """Import an uploaded ``.xlsx``/``.csv`` (UTF-8 or GBK) roster; 422 when the file is
    unreadable or lacks a required column, per-row errors otherwise."""
    org_id = _resolve_org(scope, organization_id)
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
            stmt = stmt.where(RosterEntry.phone_hash == pii.blind_index(q, "phone"))
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
        entry.active = data["active"]
        entry.updated_at = clock.now()
        audit("breakfast.roster.update", "breakfast_roster", entry.id, organization_id=entry.organization_id,
              details={"active": entry.active})
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
    entry = db.session.scalar(select(RosterEntry).where(RosterEntry.phone_hash == worker.phone_hash,
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


def is_eligible(worker_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(RosterEntry.worker_id == worker_id,
                                                        RosterEntry.active.is_(True)))))


# --- workers: their check-ins (the check-in itself: checkin.py) ------------------------

def my_checkins(worker, month: dt.date | None, page: int, per_page: int) -> dict:
    month = month or this_month()
    start, end = month_bounds(month)
    stmt = (select(Checkin.id, Checkin.serving_date, Checkin.checked_in_at, BreakfastPoint.id.label("point_id"),
                   BreakfastPoint.name.label("point_name"))
            .join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
            .where(Checkin.worker_id == worker.id, Checkin.serving_date >= start, Checkin.serving_date < end)
            .order_by(Checkin.serving_date.desc()))
    result = paginate(stmt, page, per_page, scalars=False)
    result["items"] = [{"id": r.id, "point": {"id": r.point_id, "name": r.point_name},
                        "serving_date": r.serving_date, "checked_in_at": r.checked_in_at} for r in result["items"]]
    result["month"] = month
    return result


# --- staff: reports -----------------------------------------------------------------

def _report_filters(scope, month: dt.date, point_id: int | None) -> list:
    start, end = month_bounds(month)
    filters = [Checkin.serving_date >= start, Checkin.serving_date < end,
               scope.clause(BreakfastPoint.organization_id)]
    if point_id is not None:
        filters.append(Checkin.point_id == point_id)
    return filters


def ingredients(scope, month: dt.date | None = None, point_id: int | None = None) -> dict:
    """Next month's rice, flour and oil from this month's servings.

    Per point: average servings per serving day of ``month`` (days with at
    least one breakfast) times the days of the next month (points serve every
    morning), rounded up; quantities per serving from config
    ``BREAKFAST_RICE_G``, ``BREAKFAST_FLOUR_G``, ``BREAKFAST_OIL_ML``; totals
    in kilograms and litres, rounded up — the figure the union orders by.
    """
    month = month or this_month()
    if point_id is not None:
        get_point(scope, point_id)
    _, nxt = month_bounds(month)
    next_days = calendar.monthrange(nxt.year, nxt.month)[1]
    rows = db.session.execute(
        select(BreakfastPoint.id, BreakfastPoint.name, func.count(Checkin.id),
               func.count(distinct(Checkin.serving_date)))
        .join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
        .where(*_report_filters(scope, month, point_id))
        .group_by(BreakfastPoint.id, BreakfastPoint.name).order_by(BreakfastPoint.id)).all()
    points = []
    for pid, name, servings, days in rows:
        estimate = math.ceil(servings * next_days / days) if days else 0
        points.append({"point_id": pid, "name": name, "servings": servings, "serving_days": days,
                       "estimated_servings": estimate})
    cfg = current_app.config
    rice_g = float(cfg.get("BREAKFAST_RICE_G", 60))
    flour_g = float(cfg.get("BREAKFAST_FLOUR_G", 80))
    oil_ml = float(cfg.get("BREAKFAST_OIL_ML", 8))
    estimated = sum(p["estimated_servings"] for p in points)

    def up(total: float) -> int:
        return math.ceil(round(total / 1000, 6))

    return {"month": month, "next_month": nxt, "servings": sum(p["servings"] for p in points),
            "serving_days": sum(p["serving_days"] for p in points), "next_month_days": next_days,
            "estimated_servings": estimated,
            "per_serving": {"rice_g": rice_g, "flour_g": flour_g, "oil_ml": oil_ml},
            "rice_kg": up(estimated * rice_g), "flour_kg": up(estimated * flour_g), "oil_l": up(estimated * oil_ml),
            "points": points}


def monthly_report(scope, month: dt.date | None = None, point_id: int | None = None) -> dict:
    """Per point per day counts, per worker counts (masked), distinct workers and total
    servings of one month, all by aggregate SQL; plus the ingredient estimate."""
    month = month or this_month()
    if point_id is not None:
        get_point(scope, point_id)
    filters = _report_filters(scope, month, point_id)
    joined = select().select_from(Checkin).join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)

    total, distinct_workers = db.session.execute(
        joined.add_columns(func.count(Checkin.id), func.count(distinct(Checkin.roster_entry_id)))
        .where(*filters)).one()
    per_point = db.session.execute(
        joined.add_columns(Checkin.point_id, func.count(Checkin.id), func.count(distinct(Checkin.roster_entry_id)))
        .where(*filters).group_by(Checkin.point_id)).all()
    per_day = db.session.execute(
        joined.add_columns(Checkin.point_id, Checkin.serving_date, func.count(Checkin.id))
        .where(*filters).group_by(Checkin.point_id, Checkin.serving_date)
        .order_by(Checkin.point_id, Checkin.serving_date)).all()
    counts = (joined.add_columns(Checkin.roster_entry_id.label("rid"), func.count(Checkin.id).label("n"))
              .where(*filters).group_by(Checkin.roster_entry_id).subquery())
    per_worker = db.session.execute(
        select(RosterEntry.id, RosterEntry.name, RosterEntry.phone_masked, RosterEntry.employer, counts.c.n)
        .join(counts, counts.c.rid == RosterEntry.id)
        .order_by(counts.c.n.desc(), RosterEntry.id)).all()

    point_stmt = select(BreakfastPoint).where(scope.clause(BreakfastPoint.organization_id))
    if point_id is not None:
        point_stmt = point_stmt.where(BreakfastPoint.id == point_id)
    point_rows = db.session.scalars(point_stmt.order_by(BreakfastPoint.id)).all()
    stats = {pid: (n, d) for pid, n, d in per_point}
    days: dict[int, list] = {}
    for pid, day, n in per_day:
        days.setdefault(pid, []).append({"serving_date": day, "count": n})
    points = [{"point_id": p.id, "name": p.name, "organization_id": p.organization_id,
               "servings": stats.get(p.id, (0, 0))[0], "distinct_workers": stats.get(p.id, (0, 0))[1],
               "days": days.get(p.id, [])} for p in point_rows]
    workers = [{"roster_entry_id": rid, "name": mask_name(name), "phone": phone, "employer": employer,
                "count": n} for rid, name, phone, employer, n in per_worker]
    return {"month": month, "point_id": point_id, "total_servings": total, "distinct_workers": distinct_workers,
            "points": points, "workers": workers, "ingredients": ingredients(scope, month, point_id)}


def figures(scope, start: dt.date, end: dt.date) -> dict:
    """The annual report's breakfast figures for serving days in [start, end):
    ``{points, servings, distinct_workers}`` — points existing by ``end`` in the
    caller's scope, breakfasts served there, and how many people ate them.
    (For the stats feature; two aggregate queries.)"""
    end_at = dt.datetime.combine(end, dt.time(0), tzinfo=clock.SHANGHAI)
    points = db.session.scalar(select(func.count(BreakfastPoint.id)).where(
        scope.clause(BreakfastPoint.organization_id), BreakfastPoint.created_at < end_at))
    servings, people = db.session.execute(
        select(func.count(Checkin.id), func.count(distinct(Checkin.roster_entry_id)))
        .join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
        .where(Checkin.serving_date >= start, Checkin.serving_date < end,
               scope.clause(BreakfastPoint.organization_id))).one()
    return {"points": points or 0, "servings": servings, "distinct_workers": people}


def report_xlsx(scope, month: dt.date | None = None, point_id: int | None = None):
    """The monthly report as a workbook with Chinese headers."""
    report = monthly_report(scope, month, point_id)
    label = report["month"].strftime("%Y-%m")
    names = {p["point_id"]: p["name"] for p in report["points"]}
    summary = [[label, p["name"], p["servings"], p["distinct_workers"]] for p in report["points"]]
    summary.append([label, "合计", report["total_servings"], report["distinct_workers"]])
    daily = [[d["serving_date"].isoformat(), names[p["point_id"]], d["count"]]
             for p in report["points"] for d in p["days"]]
    workers = [[w["name"] or "（已删除）", w["phone"] or "", w["employer"] or "", w["count"]]
               for w in report["workers"]]
    ing = report["ingredients"]
    estimate = [[p["name"], p["servings"], p["serving_days"], p["estimated_servings"]] for p in ing["points"]]
    estimate += [
        ["合计", ing["servings"], ing["serving_days"], ing["estimated_servings"]],
        [],
        ["下月", ing["next_month"].strftime("%Y-%m"), "天数", ing["next_month_days"]],
        ["大米（公斤）", ing["rice_kg"], "每份（克）", ing["per_serving"]["rice_g"]],
        ["面粉（公斤）", ing["flour_kg"], "每份（克）", ing["per_serving"]["flour_g"]],
        ["食用油（升）", ing["oil_l"], "每份（毫升）", ing["per_serving"]["oil_ml"]],
    ]
    return xlsx_response(f"早餐统计-{label}.xlsx", ascii_name=f"breakfast-report-{label}.xlsx", sheets={
        "汇总": (["月份", "早餐点", "供应份数", "就餐人数"], summary),
        "每日统计": (["日期", "早餐点", "份数"], daily),
        "职工统计": (["姓名", "手机号", "单位", "就餐次数"], workers),
        "食材预估": (["早餐点", "本月份数", "供应天数", "下月预计份数"], estimate),
    })


# --- the worker-wide hooks (GET /me, GET /me/data, DELETE /me) ------------------------

def profile_fields(worker) -> dict:
    return {"breakfast_eligible": is_eligible(worker.id)}


def personal_data(worker_id: int) -> dict:
    entry = db.session.scalar(select(RosterEntry).where(RosterEntry.worker_id == worker_id))
    roster = None
    if entry is not None:
        roster = {"id": entry.id, "name": entry.name,
                  "phone": pii.decrypt(entry.phone_enc, "breakfast_roster.phone"),
                  "id_number": pii.decrypt(entry.id_number_enc, "breakfast_roster.id_number"),
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
