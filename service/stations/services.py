"""Outdoor-worker rest stations: nearby search, detail, offline sync, reports, staff upkeep.

Rules:
- A station's ``code`` is unique among live stations (partial unique index);
  a clash is 409 ``station_code_taken``.
- Staff reach the stations of their organizations' subtrees; a station
  without organization belongs to the federation level and is reached only by
  whole-federation staff.  Outside the scope: 404.
- Every staff write is audit-logged in its transaction; the nearby index is
  updated AFTER the commit (``geo.upsert``/``geo.remove``).
- One open report per worker, station and kind (partial unique index); a
  second one is 409 ``report_exists``.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging

import redis
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from models import Organization, db
from models.station import Station, StationReport
from service.auth.permissions import Scope
from service.common import clock
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.errors import InvalidState, NotFound, ValidationFailed, error_type
from service.stations import geo, hours

log = logging.getLogger("service.stations")

StationCodeTaken = error_type("station_code_taken", 409, "驿站编码已被使用，请换一个编码")
ReportExists = error_type("report_exists", 409, "您已反馈过该问题，工作人员正在处理")
StationNotFound = error_type("not_found", 404, "驿站不存在或已撤销")

STATION_FIELDS = ("code", "name", "address", "lat", "lng", "phone", "amenities", "opening_hours", "closure",
                  "photos")


# --- reading ---------------------------------------------------------------------

def find_nearby(args: dict) -> tuple[list[str], str]:
    """Nearest stations first within ``radius_m`` → (items as JSON texts, source).

    Served from the Redis index (no database query).  When the index is
    missing it is rebuilt (one process, under a Redis lock) and this answer
    comes from the database, identical in content and order.  When Redis is
    unreachable the database answers as well.
    """
    q = geo.Query(args["lat"], args["lng"], args["radius_m"], args["limit"], args.get("amenities") or (),
                  args.get("open_now", False))
    try:
        return geo.search(q), "index"
    except geo.IndexMissing:
        try:
            if abs(q.lat) <= geo.GEO_LAT_MAX:
                geo.ensure_index()
        except redis.RedisError as err:
            log.warning("station index rebuild skipped: %s", type(err).__name__)
    except redis.RedisError as err:
        log.warning("station index unreachable (%s); answering from the database", type(err).__name__)
    try:
        return geo.search_database(q), "database"
    finally:
        db.session.rollback()


def _live(station_id: int) -> Station:
    station = db.session.get(Station, station_id)
    if station is None or station.deleted_at is not None:
        raise StationNotFound()
    return station


def station_view(station: Station, **extra) -> dict:
    out = {field: getattr(station, field) for field in STATION_FIELDS}
    out.update(id=station.id, organization_id=station.organization_id, updated_at=station.updated_at,
               created_at=station.created_at, closure=hours.canonical_closure(station.closure),
               photos=station.photos or [], amenities=station.amenities or [],
               open_now=hours.is_open(station.opening_hours, station.closure, clock.local_now()))
    out.update(extra)
    return out


def get_station(station_id: int) -> dict:
    """One live station; 404 for an unknown or deleted one."""
    return station_view(_live(station_id))


def _encode_cursor(station: Station) -> str:
    raw = f"{station.updated_at.astimezone(dt.timezone.utc).isoformat()}|{station.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, ident = raw.rsplit("|", 1)
        when = dt.datetime.fromisoformat(stamp)
        if when.tzinfo is None:
            raise ValueError
        return when, int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed({"cursor": ["翻页游标无效，请从第一页重新同步"]}) from None


def sync(args: dict) -> dict:
    """Stations changed since ``updated_since`` (deleted ones as tombstones), for the offline cache.

    Ordered by (updated_at, id).  Page numbers work; ``next_cursor`` gives
    keyset paging that neither skips nor repeats rows when stations change
    while a client pages.  Without ``updated_since``: every live station.
    Raises ValidationFailed for a malformed cursor.
    """
    since = args.get("updated_since")
    per_page = args["per_page"]
    stmt = select(Station)
    stmt = stmt.where(Station.deleted_at.is_(None)) if since is None else stmt.where(Station.updated_at >= since)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ordered = stmt.order_by(Station.updated_at, Station.id)
    if args.get("cursor"):
        when, ident = _decode_cursor(args["cursor"])
        ordered = ordered.where(or_(Station.updated_at > when,
                                    and_(Station.updated_at == when, Station.id > ident)))
        rows = db.session.scalars(ordered.limit(per_page)).all()
    else:
        rows = db.session.scalars(ordered.limit(per_page).offset((args["page"] - 1) * per_page)).all()
    items = []
    for station in rows:
        if station.deleted_at is not None:
            items.append({"id": station.id, "deleted": True, "updated_at": station.updated_at})
        else:
            item = {field: getattr(station, field) for field in STATION_FIELDS}
            item.update(id=station.id, deleted=False, updated_at=station.updated_at,
                        closure=hours.canonical_closure(station.closure))
            items.append(item)
    next_cursor = _encode_cursor(rows[-1]) if len(rows) == per_page else None
    return {"items": items, "total": total, "page": args["page"], "per_page": per_page,
            "next_cursor": next_cursor, "server_time": clock.now()}


# --- workers' reports ------------------------------------------------------------

def create_report(worker, station_id: int, body: dict) -> StationReport:
    """A worker reports a problem at a live station.

    404 for an unknown or deleted station; 409 ``report_exists`` when the
    worker already has an open report of this kind for this station (kept by
    the partial unique index, so two requests at once cannot both pass).
    """
    _live(station_id)
    comment = (body.get("comment") or "").strip() or None
    report = StationReport(station_id=station_id, worker_id=worker.id, kind=body["kind"], comment=comment,
                           status="open", created_at=clock.now())
    db.session.add(report)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ReportExists() from None
    return report


def _report_view(report: StationReport, code: str, name: str, organization_id) -> dict:
    return {"id": report.id, "station_id": report.station_id, "kind": report.kind, "comment": report.comment,
            "status": report.status, "created_at": report.created_at, "resolved_at": report.resolved_at,
            "resolution_note": report.resolution_note, "station_code": code, "station_name": name,
            "organization_id": organization_id}


def list_reports(scope: Scope, args: dict) -> dict:
    """Reports on stations in the caller's scope: open first, newest first."""
    stmt = (select(StationReport, Station.code, Station.name, Station.organization_id)
            .join(Station, Station.id == StationReport.station_id)
            .where(scope.clause(Station.organization_id)))
    for key, column in (("status", StationReport.status), ("kind", StationReport.kind),
                        ("station_id", StationReport.station_id)):
        if args.get(key) is not None:
            stmt = stmt.where(column == args[key])
    stmt = stmt.order_by(case((StationReport.status == "open", 0), else_=1), StationReport.created_at.desc(),
                         StationReport.id.desc())
    page = paginate(stmt, args["page"], args["per_page"], scalars=False)
    page["items"] = [_report_view(*row) for row in page["items"]]
    return page


def resolve_report(scope: Scope, report_id: int, body: dict) -> dict:
    """Mark an open report resolved.  404 outside the scope; 409 ``invalid_state`` if already resolved."""
    row = db.session.execute(
        select(StationReport, Station.code, Station.name, Station.organization_id)
        .join(Station, Station.id == StationReport.station_id).where(StationReport.id == report_id)).first()
    if row is None:
        raise NotFound("反馈不存在")
    report, code, name, org_id = row
    scope.require(org_id)
    note = (body.get("note") or "").strip() or None
    identity_id = _staff_id()
    result = db.session.execute(
        update(StationReport).where(StationReport.id == report_id, StationReport.status == "open")
        .values(status="resolved", resolved_at=clock.now(), resolved_by=identity_id, resolution_note=note)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise InvalidState("该反馈已处理")
    audit("station_report.resolve", "station_report", report_id, organization_id=org_id,
          details={"station_id": report.station_id, "kind": report.kind, "note": note})
    db.session.commit()
    db.session.refresh(report)
    return _report_view(report, code, name, org_id)


def _staff_id():
    from flask import g, has_request_context
    identity = getattr(g, "identity", None) if has_request_context() else None
    return identity.user_id if identity is not None and identity.kind == "staff" else None


def personal_data(worker_id: int) -> list[dict]:
    rows = db.session.scalars(select(StationReport).where(StationReport.worker_id == worker_id)
                              .order_by(StationReport.id)).all()
    return [{"id": r.id, "station_id": r.station_id, "kind": r.kind, "comment": r.comment, "status": r.status,
             "created_at": clock.isoformat(r.created_at)} for r in rows]


def erase_personal_data(worker_id: int) -> None:
    """The reports stay for the station's record, unlinked from the worker and without the free text."""
    db.session.execute(update(StationReport).where(StationReport.worker_id == worker_id)
                       .values(worker_id=None, comment=None).execution_options(synchronize_session=False))


# --- staff upkeep ------------------------------------------------------------------

def organization_for(scope: Scope, staff, data: dict) -> int | None:
    """The organization a new station (or import) belongs to.

    Given: it must exist and be in the scope (422 otherwise); an explicit null
    (federation level) only for whole-federation staff.  Not given: whole-
    federation staff get the federation level; others their own organization
    when they have exactly one, else 422 asking to choose.
    """
    if "organization_id" in data and data["organization_id"] is not None:
        org = db.session.get(Organization, data["organization_id"])
        if org is None or not scope.allows(org.id):
            raise ValidationFailed({"organization_id": ["工会组织不存在或不在您的管辖范围内"]})
        return org.id
    if scope.org_ids is None:
        return None
    if "organization_id" in data:
        raise ValidationFailed({"organization_id": ["只有市总工会层级的工作人员可以维护市级驿站"]})
    own = {r.organization_id for r in getattr(staff, "roles", []) or []
           if r.role in scope.roles and r.organization_id is not None}
    if len(own) == 1:
        return own.pop()
    raise ValidationFailed({"organization_id": ["请选择驿站所属的工会组织"]})


def _code_taken(code: str, except_id: int | None = None) -> bool:
    stmt = select(Station.id).where(Station.code == code, Station.deleted_at.is_(None))
    if except_id is not None:
        stmt = stmt.where(Station.id != except_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _commit_station(station: Station, action: str, details: dict) -> None:
    """Flush, audit and commit one station write; a code clash (a concurrent writer) becomes 409."""
    code, station_id = station.code, station.id
    try:
        db.session.flush()
        audit(action, "station", station.id, organization_id=station.organization_id, details=details)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if _code_taken(code, station_id):
            raise StationCodeTaken() from None
        raise


def create_station(scope: Scope, staff, body: dict) -> dict:
    """New station in the caller's scope.  409 ``station_code_taken``; 422 for a bad organization."""
    org_id = organization_for(scope, staff, body)
    if _code_taken(body["code"]):
        raise StationCodeTaken()
    now = clock.now()
    station = Station(code=body["code"], name=body["name"], address=body["address"], lat=body["lat"],
                      lng=body["lng"], phone=body.get("phone"), amenities=body.get("amenities") or [],
                      opening_hours=body["opening_hours"], closure=body.get("closure"),
                      photos=body.get("photos") or [], organization_id=org_id, created_at=now, updated_at=now)
    db.session.add(station)
    _commit_station(station, "station.create", {"code": station.code, "name": station.name})
    geo.upsert([station])
    return station_view(station, open_reports=0)


def _in_scope(scope: Scope, station_id: int) -> Station:
    station = _live(station_id)
    scope.require(station.organization_id)
    return station


def update_station(scope: Scope, staff, station_id: int, body: dict) -> dict:
    """Change a station in the scope; moving it updates the index.  404 / 409 / 422 as for create."""
    station = _in_scope(scope, station_id)
    changed = {}
    if "organization_id" in body and body["organization_id"] != station.organization_id:
        station.organization_id = organization_for(scope, staff, body)
        changed["organization_id"] = station.organization_id
    if "code" in body and body["code"] != station.code and _code_taken(body["code"], station.id):
        raise StationCodeTaken()
    for field in STATION_FIELDS:
        if field in body and body[field] != getattr(station, field):
            if field in ("code", "name", "address", "opening_hours") and body[field] is None:
                raise ValidationFailed({field: ["不能为空"]})
            value = body[field]
            if field in ("amenities", "photos") and value is None:
                value = []
            setattr(station, field, value)
            changed[field] = value
    if changed:
        station.updated_at = clock.now()
        _commit_station(station, "station.update", {"code": station.code, "changed": sorted(changed)})
        geo.upsert([station])
    return station_view(station, open_reports=_open_reports([station.id]).get(station.id, 0))


def delete_station(scope: Scope, station_id: int) -> None:
    """Soft-delete: the row stays as the sync tombstone; the index drops it.  404 outside the scope."""
    station = _in_scope(scope, station_id)
    now = clock.now()
    station.deleted_at = now
    station.updated_at = now
    audit("station.delete", "station", station.id, organization_id=station.organization_id,
          details={"code": station.code, "name": station.name})
    db.session.commit()
    geo.remove([station_id])


def _open_reports(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = db.session.execute(select(StationReport.station_id, func.count())
                              .where(StationReport.station_id.in_(ids), StationReport.status == "open")
                              .group_by(StationReport.station_id)).all()
    return {sid: n for sid, n in rows}


def list_stations(scope: Scope, args: dict) -> dict:
    """Live stations in the scope, searchable by name, code or address; newest first."""
    stmt = select(Station).where(Station.deleted_at.is_(None), scope.clause(Station.organization_id))
    if args.get("organization_id") is not None:
        stmt = stmt.where(Station.organization_id == args["organization_id"])
    q = (args.get("q") or "").strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Station.name.ilike(pattern, escape="\\"), Station.code.ilike(pattern, escape="\\"),
                              Station.address.ilike(pattern, escape="\\")))
    page = paginate(stmt.order_by(Station.id.desc()), args["page"], args["per_page"])
    counts = _open_reports([s.id for s in page["items"]])
    page["items"] = [station_view(s, open_reports=counts.get(s.id, 0)) for s in page["items"]]
    return page
