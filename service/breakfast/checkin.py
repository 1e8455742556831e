"""The check-in at 5:40 in the morning: the feature's one hot write.

Rules, in this order (docs/contract.md §6): bad or forged scene → 422
``qr_invalid``; caller not on the roster (no active linked entry) → 403
``not_eligible``; point inactive → 409 ``point_inactive``; outside the serving
window [start, end) in Asia/Shanghai → 409 ``outside_serving_window``; the
point has a geofence and the location is missing or farther → 422
``too_far_from_point``; already checked in this serving day anywhere → 409
``already_checked_in`` (``details.checked_in_at``, ``details.point_name``);
the point's quota used up → 409 ``daily_quota_reached``.

How it stays fast and exact:

- **Point snapshots.**  Each process keeps the points it has seen (a few
  dozen rows that change a few times a year) and judges the scene, the
  window and the geofence on its snapshot.  The snapshot is never trusted
  alone: the write below happens only while the point's ``version`` still
  equals the snapshot's (every change of a point bumps it), and a stale
  snapshot is read again and the check-in retried.  A scene that fails on a
  snapshot is checked once more on a fresh read before it is refused, so a
  code printed after a rotation works at once.
- **One statement on PostgreSQL**, sent in autocommit: it finds the caller's
  roster entry, checks the snapshot is current, inserts the check-in
  (``ON CONFLICT DO NOTHING`` on the unique (roster entry, serving day) and
  (user, serving day): a user whose phone changed and who moved to a new
  roster entry still eats once that day),
  adds one to the point's counter for the day, and returns what an error
  needs (the earlier check-in, when there is one).  A data-modifying CTE runs
  as one atomic statement, so the check-in and its count land together or
  not at all: when the counter would pass its quota, ``CHECK served <= quota``
  fails the whole statement and nothing is written.
- **On SQLite** (the embedded development database, which has no
  data-modifying CTEs) the same steps run as separate statements in one
  transaction.

The database keeps both invariants under any concurrency: the unique indexes
(one breakfast per roster entry per day, and per user per day) and the
counter row's CHECK (never more than the quota), which concurrent upserts of
the same row reach one at a time.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import psycopg
from flask import current_app
from sqlalchemy import Date, bindparam, or_, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from models import db
from models.base import UTCDateTime
from models.breakfast import BreakfastPoint, Checkin
from service.breakfast import qr
from service.breakfast.errors import (
    AlreadyCheckedIn,
    DailyQuotaReached,
    NotEligible,
    OutsideServingWindow,
    PointInactive,
    QrInvalid,
    TooFarFromPoint,
)
from service.breakfast.points import window_text
from service.common import clock
from service.common.distance import haversine_m
from service.errors import DatabaseUnavailable

log = logging.getLogger("service.breakfast.checkin")

SNAPSHOT_SECONDS = 60.0   # a snapshot older than this is read again before use
STALE_RETRIES = 3         # a point edited this many times during one scan: give up (503)
QUOTA_CHECK = "within_quota"


@dataclass(frozen=True, slots=True)
class PointSnapshot:
    id: int
    name: str
    lat: float
    lng: float
    serving_start: dt.time
    serving_end: dt.time
    daily_quota: int
    geofence_m: int | None
    active: bool
    qr_generation: int
    version: int
    taken: float


_POINT_COLUMNS = (BreakfastPoint.id, BreakfastPoint.name, BreakfastPoint.lat, BreakfastPoint.lng,
                  BreakfastPoint.serving_start, BreakfastPoint.serving_end, BreakfastPoint.daily_quota,
                  BreakfastPoint.geofence_m, BreakfastPoint.active, BreakfastPoint.qr_generation,
                  BreakfastPoint.version)


def _snapshots() -> dict[int, PointSnapshot]:
    return current_app.extensions.setdefault("breakfast_points", {})


def point_snapshot(point_id: int, fresh: bool = False) -> PointSnapshot | None:
    """This process' snapshot of a point (read again when ``fresh`` or old); None if no such point."""
    cache = _snapshots()
    snap = cache.get(point_id)
    if snap is not None and not fresh and time.monotonic() - snap.taken < SNAPSHOT_SECONDS:
        return snap
    with db.engine.connect() as conn:
        row = conn.execute(select(*_POINT_COLUMNS).where(BreakfastPoint.id == point_id)).first()
    if row is None:
        cache.pop(point_id, None)
        return None
    snap = cache[point_id] = PointSnapshot(*row, taken=time.monotonic())
    return snap


def _point_problem(point: PointSnapshot, local_time: dt.time, lat: float | None, lng: float | None):
    """(the first point rule broken as an error to raise, or None; the distance in metres or None)."""
    distance = None if lat is None or lng is None else haversine_m(lat, lng, point.lat, point.lng)
    if not point.active:
        return PointInactive(), distance
    if not point.serving_start <= local_time < point.serving_end:
        return OutsideServingWindow(f"早餐供应时间为每天 {window_text(point)}，请在供应时间内扫码",
                                    {"serving_start": f"{point.serving_start:%H:%M}",
                                     "serving_end": f"{point.serving_end:%H:%M}"}), distance
    if point.geofence_m is not None and (distance is None or distance > point.geofence_m):
        return TooFarFromPoint("请开启定位后在早餐点附近扫码" if distance is None else None,
                               {"distance_m": None if distance is None else round(distance),
                                "geofence_m": point.geofence_m}), distance
    return None, distance


@dataclass(slots=True)
class _Outcome:
    entry_id: int | None      # the caller's active roster entry
    current: bool             # the snapshot was the point's current state
    checkin_id: int | None    # the new check-in, when one was written
    earlier: tuple | None     # (checked_in_at, point id, point name) of today's earlier check-in


def check_in(worker_id: int, scene, lat: float | None = None, lng: float | None = None) -> dict:
    """Check the caller in at the point whose QR code was scanned (rules and guarantees: module doc)."""
    parsed = qr.parse(scene)
    if parsed is None:
        raise QrInvalid()
    fresh = False
    for _ in range(STALE_RETRIES):
        point = point_snapshot(parsed.point_id, fresh)
        if point is None:
            raise QrInvalid()
        problem = qr.verify(parsed, point.qr_generation)
        if problem is not None:
            if not fresh:  # perhaps rotated since the snapshot: decide on the point as it is now
                fresh = True
                continue
            if problem == "retired":
                raise QrInvalid("该二维码已更换，请扫描早餐点现场张贴的最新二维码")
            raise QrInvalid()
        now = clock.now()
        local = now.astimezone(clock.SHANGHAI)
        serving_date = local.date()
        refusal, distance = _point_problem(point, local.time(), lat, lng)
        params = {"worker_id": worker_id, "point_id": point.id, "version": point.version,
                  "go": refusal is None, "day": serving_date, "now": now, "quota": point.daily_quota,
                  "distance": None if distance is None else round(distance)}
        try:
            outcome = _write(params)
        except IntegrityError as err:
            if QUOTA_CHECK in str(err.orig):
                raise DailyQuotaReached(details={"quota": point.daily_quota}) from None
            raise
        if not outcome.current:  # the point changed since the snapshot: read it again, judge again
            fresh = True
            continue
        if outcome.entry_id is None:
            raise NotEligible()
        if refusal is not None:
            raise refusal
        if outcome.checkin_id is None:
            earlier = outcome.earlier or _earlier(outcome.entry_id, worker_id, serving_date)
            details = {}
            if earlier is not None:
                details = {"checked_in_at": clock.isoformat(earlier[0]), "point_id": earlier[1],
                           "point_name": earlier[2]}
            raise AlreadyCheckedIn(details=details)
        return {"id": outcome.checkin_id, "point": {"id": point.id, "name": point.name},
                "serving_date": serving_date, "checked_in_at": now}
    raise DatabaseUnavailable("早餐点信息正在更新，请稍后再扫码")


# --- the write ---------------------------------------------------------------------

_PG_CHECKIN = """
WITH p AS (
    SELECT id FROM breakfast_points WHERE id = %(point_id)s AND version = %(version)s
), e AS (
    SELECT id FROM breakfast_roster WHERE worker_id = %(worker_id)s AND active
), ins AS (
    INSERT INTO breakfast_checkins (roster_entry_id, point_id, worker_id, serving_date, checked_in_at, distance_m)
    SELECT e.id, p.id, %(worker_id)s, %(day)s, %(now)s, CAST(%(distance)s AS integer) FROM e, p WHERE %(go)s
    ON CONFLICT DO NOTHING
    RETURNING id
), cnt AS (
    INSERT INTO breakfast_daily_counts (point_id, serving_date, quota, served)
    SELECT %(point_id)s, %(day)s, %(quota)s, 1 FROM ins
    ON CONFLICT (point_id, serving_date) DO UPDATE SET served = breakfast_daily_counts.served + 1
    RETURNING served
)
SELECT (SELECT id FROM e), EXISTS (SELECT 1 FROM p), i.id, c.checked_in_at, c.point_id, bp.name
FROM (SELECT 1) AS one
LEFT JOIN ins i ON true
LEFT JOIN LATERAL (  -- today's earlier check-in, looked for only when nothing was inserted
    SELECT checked_in_at, point_id FROM breakfast_checkins
    WHERE i.id IS NULL AND serving_date = %(day)s
      AND (roster_entry_id = (SELECT id FROM e) OR worker_id = %(worker_id)s)
    ORDER BY checked_in_at LIMIT 1
) c ON true
LEFT JOIN breakfast_points bp ON bp.id = c.point_id
"""


def _write(params: dict) -> _Outcome:
    if db.engine.dialect.name == "postgresql":
        return _write_postgresql(params)
    return _write_steps(params)


def _write_postgresql(params: dict) -> _Outcome:
    """The whole check-in as one statement in autocommit: one round trip, atomic.

    Straight on the pooled psycopg connection, as the nearby search does:
    SQLAlchemy's connection, statement and result objects cost more than the
    statement's own work in this process.  A lost connection answers 503
    ``database_unavailable`` (a broken one is dropped from the pool); any other
    database error is raised as SQLAlchemy would raise it (an exceeded quota
    as its ``IntegrityError``)."""
    pooled = db.engine.raw_connection()
    conn = pooled.driver_connection
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            row = cursor.execute(_PG_CHECKIN, params).fetchone()
    except (psycopg.OperationalError, psycopg.InterfaceError) as err:
        log.error("database unavailable: %s", type(err).__name__)
        if conn.broken or conn.closed:
            pooled.invalidate(err)
            db.engine.dispose()  # the other pooled connections predate the failure too, as SQLAlchemy assumes
        raise DatabaseUnavailable() from None
    except psycopg.Error as err:
        raise DBAPIError.instance(_PG_CHECKIN, params, err, psycopg.Error) from err
    finally:
        if not conn.closed:
            conn.autocommit = False
        pooled.close()
    entry_id, current, checkin_id, earlier_at, earlier_point, earlier_name = row
    earlier = None if earlier_at is None else (earlier_at, earlier_point, earlier_name)
    return _Outcome(entry_id, current, checkin_id, earlier)


_NOW, _DAY = bindparam("now", type_=UTCDateTime()), bindparam("day", type_=Date())
_ENTRY_AND_VERSION = text(
    "SELECT (SELECT id FROM breakfast_roster WHERE worker_id = :worker_id AND active), "
    "EXISTS (SELECT 1 FROM breakfast_points WHERE id = :point_id AND version = :version)")
_INSERT_CHECKIN = text(
    "INSERT INTO breakfast_checkins (roster_entry_id, point_id, worker_id, serving_date, checked_in_at, distance_m) "
    "VALUES (:entry_id, :point_id, :worker_id, :day, :now, :distance) "
    "ON CONFLICT DO NOTHING RETURNING id").bindparams(_NOW, _DAY)
_COUNT_ONE = text(
    "INSERT INTO breakfast_daily_counts (point_id, serving_date, quota, served) VALUES (:point_id, :day, :quota, 1) "
    "ON CONFLICT (point_id, serving_date) DO UPDATE SET served = breakfast_daily_counts.served + 1"
).bindparams(_DAY)


def _write_steps(params: dict) -> _Outcome:
    """The same steps as separate statements in one transaction (SQLite)."""
    with db.engine.begin() as conn:
        entry_id, current = conn.execute(_ENTRY_AND_VERSION, params).one()
        if entry_id is None or not current or not params["go"]:
            return _Outcome(entry_id, bool(current), None, None)
        checkin_id = conn.execute(_INSERT_CHECKIN, {**params, "entry_id": entry_id}).scalar()
        if checkin_id is not None:
            conn.execute(_COUNT_ONE, params)
        return _Outcome(entry_id, True, checkin_id, None)


def _earlier(entry_id: int, worker_id: int, day: dt.date):
    """Today's earlier check-in of the roster entry or of the user: (checked_in_at, point id, point name), or None."""
    with db.engine.connect() as conn:
        return conn.execute(
            select(Checkin.checked_in_at, BreakfastPoint.id, BreakfastPoint.name)
            .join(BreakfastPoint, BreakfastPoint.id == Checkin.point_id)
            .where(Checkin.serving_date == day,
                   or_(Checkin.roster_entry_id == entry_id, Checkin.worker_id == worker_id))
            .order_by(Checkin.checked_in_at).limit(1)).first()
