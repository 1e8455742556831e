"""Breakfast points (早餐点): their set-up, their QR codes and today's count.

A point belongs to one union organization and is reached only by staff whose
scope holds it (404 otherwise).  Every change bumps the point's ``version``,
which the check-in compares with its snapshot of the point (``checkin.py``).
Every staff write is audit-logged in its own transaction.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from models import db
from models.breakfast import BreakfastPoint, DailyCount
from service.breakfast import qr
from service.common import clock
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.errors import NotFound, ValidationFailed
from service.organizations.services import check_location, owning_organization
from service.wechat_gateway import wechat_gateway

NOUN = "早餐点"


def window_text(point) -> str:
    """``05:30–08:30``: a point's serving window as workers and clerks read it."""
    return f"{point.serving_start:%H:%M}–{point.serving_end:%H:%M}"


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
    """A new breakfast point in an organization the caller reaches (422 otherwise);
    without ``organization_id`` (or with null) the caller's single top organization.
    422 ``outside_service_area`` outside China or the organization's service area,
    unless ``confirm_outside_area``."""
    now = clock.now()
    given = {} if data.get("organization_id") is None else {"organization_id": data["organization_id"]}
    org_id = owning_organization(scope, given, noun=NOUN)
    check_location(org_id, data["lat"], data["lng"], data.get("confirm_outside_area", False))
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
    """Change a point.  The window must stay ordered (422); a new organization must be
    in the caller's scope (422); a new place (coordinates or organization) must lie in
    its service area (422 ``outside_service_area``, unless ``confirm_outside_area``); a
    new quota applies to today's counter at once, never below what was already served today."""
    point = get_point(scope, point_id)
    confirmed = data.pop("confirm_outside_area", False)
    if "organization_id" in data and data["organization_id"] != point.organization_id:
        data["organization_id"] = owning_organization(scope, data, noun=NOUN)
    if any(key in data and data[key] != getattr(point, key) for key in ("lat", "lng", "organization_id")):
        check_location(data.get("organization_id", point.organization_id), data.get("lat", point.lat),
                       data.get("lng", point.lng), confirmed)
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


# --- QR codes ----------------------------------------------------------------------

def rotate_qr(scope, point_id: int) -> BreakfastPoint:
    """Invalidate the point's printed codes: its next scene is signed with a new generation."""
    point = get_point(scope, point_id)
    db.session.execute(update(BreakfastPoint).where(BreakfastPoint.id == point.id)
                       .values(qr_generation=BreakfastPoint.qr_generation + 1, version=BreakfastPoint.version + 1,
                               updated_at=clock.now()))
    db.session.refresh(point)
    audit("breakfast.point.qr_rotate", "breakfast_point", point.id, organization_id=point.organization_id,
          details={"qr_generation": point.qr_generation})
    db.session.commit()
    return point


def qr_png(scope, point_id: int) -> bytes:
    return qr.png(qr.point_scene(get_point(scope, point_id)))


def qr_poster(scope, point_id: int) -> str:
    point = get_point(scope, point_id)
    return qr.poster_svg(qr.point_scene(point), point.name, point.address, window_text(point))


def qr_wxacode(scope, point_id: int) -> bytes:
    """The mini-program code from WeChat (``wxacode.getUnlimited``); WeChat's
    outages surface as 503 ``wechat_unavailable``."""
    point = get_point(scope, point_id)
    return wechat_gateway.get_wxa_code_unlimited(qr.point_scene(point), page=qr.WXACODE_PAGE)
