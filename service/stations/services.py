"""Outdoor-worker rest stations (docs/contract.md §5): nearby search, detail, offline sync, reports, staff upkeep.

Rules:
- A station's ``code`` is unique among live stations (partial unique index);
  a clash is 409 ``station_code_taken``.
- Staff reach the stations of their organizations' subtrees; a station
  without organization belongs to the federation level and is reached only by
  whole-federation staff.  Outside the scope: 404.
- Every staff write is audit-logged in its transaction.  The nearby search
  reads the stations table itself (``service/stations/search.py``), so a
  committed write is in its next answer.
- One open report per worker, station and kind (partial unique index); a
  second one is 409 ``report_exists``.

Answers are model objects or rows; the output schemas shape them
(``service/stations/schemas.py``).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt

from sqlalchemy import Row, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from models import db
from models.station import Station, StationReport
from service.auth.permissions import Scope
from service.common import clock
from service.common.audit import changes
from service.common.audit import record as audit
from service.common.pagination import paginate
from service.errors import ValidationFailed
from service.organizations.services import check_location, owning_organization
from service.stations import search
from service.stations.errors import (
    ReportAlreadyResolved,
    ReportExists,
    ReportNotFound,
    StationCodeTaken,
    StationNotFound,
)

STATION_FIELDS = ("code", "name", "address", "lat", "lng", "phone", "amenities", "opening_hours", "closure",
                  "photos")
REQUIRED_FIELDS = ("code", "name", "address", "opening_hours")


# --- reading ---------------------------------------------------------------------

def find_nearby(args: dict) -> list[str]:
    """Nearest stations first within ``radius_m``, filtered by amenities and ``open_now`` → items as JSON texts.

    The rules are ``search``'s; Redis plays no part in the answer.
    """
    return search.find(search.Question(args["lat"], args["lng"], args["radius_m"], args["limit"],
                                       args.get("amenities") or (), args.get("open_now", False)))


def get_station(station_id: int) -> Station:
    """One live station; 404 ``not_found`` for an unknown or deleted one."""
    station = db.session.get(Station, station_id)
    if station is None or station.deleted_at is not None:
        raise StationNotFound()
    return station


def _encode_cursor(station: Station) -> str:
    raw = f"{station.updated_at.astimezone(dt.UTC).isoformat()}|{station.id}"
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
    """Stations changed since ``updated_since`` (deleted ones included: the schema
    makes them tombstones), for the offline cache.

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
    next_cursor = _encode_cursor(rows[-1]) if len(rows) == per_page else None
    return {"items": rows, "total": total, "page": args["page"], "per_page": per_page,
            "next_cursor": next_cursor, "server_time": clock.now()}


# --- workers' reports ------------------------------------------------------------

def create_report(worker, station_id: int, body: dict) -> StationReport:
    """A worker reports a problem at a live station.

    404 for an unknown or deleted station; 409 ``report_exists`` when the
    worker already has an open report of this kind for this station (kept by
    the partial unique index, so two requests at once cannot both pass).
    """
    get_station(station_id)
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


def _reports():
    """Reports as the staff see them: the report's columns with its station's
    ``station_code``, ``station_name`` and ``organization_id``."""
    return (select(StationReport.__table__, Station.code.label("station_code"),
                   Station.name.label("station_name"), Station.organization_id)
            .join(Station, Station.id == StationReport.station_id))


def list_reports(scope: Scope, args: dict) -> dict:
    """Reports on stations in the caller's scope: open first, newest first."""
    stmt = _reports().where(scope.clause(Station.organization_id))
    for key, column in (("status", StationReport.status), ("kind", StationReport.kind),
                        ("station_id", StationReport.station_id)):
        if args.get(key) is not None:
            stmt = stmt.where(column == args[key])
    stmt = stmt.order_by(case((StationReport.status == "open", 0), else_=1), StationReport.created_at.desc(),
                         StationReport.id.desc())
    return paginate(stmt, args["page"], args["per_page"], scalars=False)


def resolve_report(scope: Scope, staff, report_id: int, body: dict) -> Row:
    """``staff`` marks an open report resolved.  404 outside the scope; 409 ``invalid_state`` if already resolved."""
    report = db.session.execute(_reports().where(StationReport.id == report_id)).first()
    if report is None:
        raise ReportNotFound()
    scope.require(report.organization_id)
    note = (body.get("note") or "").strip() or None
    result = db.session.execute(
        update(StationReport).where(StationReport.id == report_id, StationReport.status == "open")
        .values(status="resolved", resolved_at=clock.now(), resolved_by=staff.id, resolution_note=note)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise ReportAlreadyResolved()
    audit("station_report.resolve", "station_report", report_id, organization_id=report.organization_id,
          details={"station_id": report.station_id, "kind": report.kind, "note": note})
    db.session.commit()
    return db.session.execute(_reports().where(StationReport.id == report_id)).one()


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

def _admin_stations():
    """Stations as the staff see them: the station's columns with its count of ``open_reports``."""
    open_reports = (select(func.count()).select_from(StationReport)
                    .where(StationReport.station_id == Station.id, StationReport.status == "open")
                    .correlate(Station).scalar_subquery())
    return select(Station.__table__, open_reports.label("open_reports"))


def _admin_station(station_id: int) -> Row:
    return db.session.execute(_admin_stations().where(Station.id == station_id)).one()


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


def create_station(scope: Scope, body: dict) -> Row:
    """New station in the caller's scope.  409 ``station_code_taken``; 422 for a bad organization;
    422 ``outside_service_area`` outside China or the organization's service area, unless
    ``confirm_outside_area``."""
    org_id = owning_organization(scope, body, federation_level=True, noun="驿站")
    check_location(org_id, body["lat"], body["lng"], body.get("confirm_outside_area", False))
    if _code_taken(body["code"]):
        raise StationCodeTaken()
    now = clock.now()
    station = Station(code=body["code"], name=body["name"], address=body["address"], lat=body["lat"],
                      lng=body["lng"], phone=body.get("phone"), amenities=body.get("amenities") or [],
                      opening_hours=body["opening_hours"], closure=body.get("closure"),
                      photos=body.get("photos") or [], organization_id=org_id, created_at=now, updated_at=now)
    db.session.add(station)
    _commit_station(station, "station.create", {"code": station.code, "name": station.name})
    return _admin_station(station.id)


def station_in_scope(scope: Scope, station_id: int) -> Station:
    """One live station within the caller's scope; 404 for an unknown, deleted or unreachable one."""
    station = get_station(station_id)
    scope.require(station.organization_id)
    return station


def update_station(scope: Scope, station_id: int, body: dict) -> Row:
    """Change a station in the scope.  404 / 409 / 422 as for create."""
    station = station_in_scope(scope, station_id)
    before = {field: getattr(station, field) for field in (*STATION_FIELDS, "organization_id")}
    changed = {}
    if "organization_id" in body and body["organization_id"] != station.organization_id:
        station.organization_id = owning_organization(scope, body, federation_level=True, noun="驿站")
        changed["organization_id"] = station.organization_id
    if "code" in body and body["code"] != station.code and _code_taken(body["code"], station.id):
        raise StationCodeTaken()
    moved = any(key in body and body[key] != getattr(station, key) for key in ("lat", "lng"))
    if moved or "organization_id" in changed:
        check_location(station.organization_id, body.get("lat", station.lat), body.get("lng", station.lng),
                       body.get("confirm_outside_area", False))
    for field in STATION_FIELDS:
        if field in body and body[field] != getattr(station, field):
            if field in REQUIRED_FIELDS and body[field] is None:
                raise ValidationFailed({field: ["不能为空"]})
            value = body[field]
            if field in ("amenities", "photos") and value is None:
                value = []
            setattr(station, field, value)
            changed[field] = value
    if changed:
        station.updated_at = clock.now()
        _commit_station(station, "station.update", {"code": station.code, "changed": changes(before, changed)})
    return _admin_station(station_id)


def delete_station(scope: Scope, station_id: int) -> None:
    """Soft-delete: the row stays as the sync tombstone; the nearby search stops finding it.  404 outside scope."""
    station = station_in_scope(scope, station_id)
    now = clock.now()
    station.deleted_at = now
    station.updated_at = now
    audit("station.delete", "station", station.id, organization_id=station.organization_id,
          details={"code": station.code, "name": station.name})
    db.session.commit()


def _admin_filters(scope: Scope, args: dict) -> list:
    """The staff's list filters: live stations in the scope, an organization, a search of
    name, code and address, and a map's view (``bbox``: west, south, east, north)."""
    filters = [Station.deleted_at.is_(None), scope.clause(Station.organization_id)]
    if args.get("organization_id") is not None:
        filters.append(Station.organization_id == args["organization_id"])
    q = (args.get("q") or "").strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        filters.append(or_(Station.name.ilike(pattern, escape="\\"), Station.code.ilike(pattern, escape="\\"),
                           Station.address.ilike(pattern, escape="\\")))
    if args.get("bbox"):
        west, south, east, north = args["bbox"]
        filters.append(and_(Station.lat.between(south, north), Station.lng.between(west, east)))
    return filters


def list_stations(scope: Scope, args: dict) -> dict:
    """Live stations in the scope, searchable by name, code or address, within a map's view; newest first."""
    stmt = _admin_stations().where(*_admin_filters(scope, args))
    return paginate(stmt.order_by(Station.id.desc()), args["page"], args["per_page"], scalars=False)


def map_points(scope: Scope, args: dict, limit: int) -> list[Row]:
    """The first ``limit`` stations of the staff's list (its filters, its order) as map markers:
    ``id, code, name, lat, lng`` only."""
    return db.session.execute(select(Station.id, Station.code, Station.name, Station.lat, Station.lng)
                              .where(*_admin_filters(scope, args)).order_by(Station.id.desc()).limit(limit)).all()
