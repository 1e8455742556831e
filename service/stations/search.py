"""The nearby search (docs/contract.md §5): the nearest live stations to a point, straight from the database.

The answer to ``(lat, lng, radius_m, limit, amenities, open_now)``: the
``limit`` nearest live stations within ``radius_m`` metres that have every
wanted amenity and, with ``open_now``, are open at this minute in
Asia/Shanghai (opening hours and closures as ``service/stations/hours.py``
reads them).  Distances are great-circle metres on the sphere of
``service/common/distance.py``, rounded to the metre (``distance_m``);
stations are ordered by ``distance_m``, then by id, so equal distances come in
one order on every database.

PostgreSQL: one statement on the GiST index of the live stations' ``geog``
(migration 0014): ``ST_DWithin`` bounds the scan to the radius, ``<->`` walks
it nearest first, and the amenity filter (``amenities @> …``) and the open
filter (the generated ``open_week`` minutes of the week, and the closure's
dates) are in the same statement, so the scan stops as soon as
``limit + TIE_MARGIN`` matches are found however many nearer stations are
filtered out.  PostgreSQL orders those by (metres, id) and renders the first
``limit`` as JSON.  Only when the farthest one fetched may tie, to the metre,
with the last one answered is the statement run again with a larger limit.
Autocommit: one round trip.

SQLite: a bounding box on the (lat, lng) index, then the exact distance,
the filters and the same JSON in Python.  Both give the same answer.
"""
from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Iterable

import psycopg
from sqlalchemy import and_, or_, select

from models import db
from models.station import Station
from service.common import clock
from service.common.distance import EARTH_RADIUS_M, haversine_m
from service.errors import DatabaseUnavailable
from service.stations import hours

log = logging.getLogger("service.stations.search")

MINUTES_PER_DAY = 1440
TIE_MARGIN = 5  # matches fetched beyond the limit: a tie to the metre across the cut rarely reaches past them

_POINT = "ST_SetSRID(ST_MakePoint(%(lng)s::float8, %(lat)s::float8), 4326)::geography"
# closed today: a closure object whose dates hold today (a NULL closure, JSON or SQL, closes nothing)
_OPEN_NOW = ("(open_week @> %(minute_of_week)s::int AND NOT coalesce(jsonb_typeof(closure) = 'object' "
             "AND closure <> '{}' AND coalesce(closure ->> 'from', '') <= %(today)s::text "
             "AND coalesce(nullif(closure ->> 'until', ''), '9999-12-31') >= %(today)s::text, false))")
_HOURS_JSON = ("CASE WHEN jsonb_typeof(opening_hours) = 'object' THEN json_strip_nulls(json_build_object("
               + ", ".join(f"'{day}', opening_hours -> '{day}'" for day in hours.DAYS)
               + ")) ELSE opening_hours::json END")
_CLOSURE_JSON = ("CASE WHEN jsonb_typeof(closure) = 'object' AND closure <> '{}' THEN json_build_object("
                 "'from', closure -> 'from', 'until', closure -> 'until', 'reason', closure -> 'reason') END")


def _statement(amenities: bool, open_only: bool) -> str:
    """The ``fetch`` nearest matches (a few more than asked, so that a tie at the cut is seen), the
    ``limit`` first of them by (metres, id) rendered as JSON, each row with how many were fetched and
    the farthest distance fetched."""
    where = ["deleted_at IS NULL", f"ST_DWithin(geog, {_POINT}, %(radius)s::float8, false)"]
    if amenities:
        where.append("amenities @> %(amenities)s::jsonb")
    if open_only:
        where.append(_OPEN_NOW)
    return (
        "SELECT json_build_object('id', id, 'name', name, 'address', address, 'lat', lat, 'lng', lng, "
        "'distance_m', metres::int, 'amenities', amenities, 'open_now', open_now, "
        f"'opening_hours', {_HOURS_JSON}, 'phone', phone, 'closure', {_CLOSURE_JSON})::text, "
        "fetched, farthest, metres "
        "FROM (SELECT nearest.*, round(d) AS metres, count(*) OVER () AS fetched, max(d) OVER () AS farthest "
        "FROM (SELECT id, name, address, lat, lng, phone, amenities, opening_hours, closure, "
        f"geog <-> {_POINT} AS d, {'true' if open_only else _OPEN_NOW} AS open_now "
        f"FROM stations WHERE {' AND '.join(where)} "
        f"ORDER BY geog <-> {_POINT} LIMIT %(fetch)s::int) AS nearest "
        "ORDER BY round(d), id LIMIT %(limit)s::int) AS answer "
        "ORDER BY metres, id")


_STATEMENTS = {(a, o): _statement(a, o) for a in (False, True) for o in (False, True)}


class Question:
    """One nearby question, with the moment of asking read once."""

    __slots__ = ("lat", "lng", "radius", "limit", "amenities", "open_only", "today", "weekday", "minute")

    def __init__(self, lat: float, lng: float, radius_m: int, limit: int, amenities: Iterable[str] = (),
                 open_now: bool = False):
        self.lat, self.lng, self.radius, self.limit = lat, lng, radius_m, limit
        self.amenities = list(amenities)
        self.open_only = open_now
        self.today, self.weekday, self.minute = hours.moment(clock.local_now())


def find(q: Question) -> list[str]:
    """The answer's items as JSON texts, nearest first."""
    if db.engine.dialect.name == "postgresql":
        return _find_postgresql(q)
    return _find_portable(q)


def _find_postgresql(q: Question) -> list[str]:
    """Straight on the pooled psycopg connection, in autocommit: SQLAlchemy's statement and result
    machinery cost more than the statement itself.  A lost connection is dropped from the pool and
    answers 503 ``database_unavailable``, as everywhere else."""
    statement = _STATEMENTS[(bool(q.amenities), q.open_only)]
    params = {"lat": q.lat, "lng": q.lng, "radius": float(q.radius), "amenities": json.dumps(q.amenities),
              "minute_of_week": q.weekday * MINUTES_PER_DAY + q.minute, "today": q.today.isoformat(),
              "limit": q.limit}
    fetch = q.limit + TIE_MARGIN
    pooled = db.engine.raw_connection()
    conn = pooled.driver_connection
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            while True:
                rows = cursor.execute(statement, {**params, "fetch": fetch}).fetchall()
                # complete unless the farthest one fetched may tie, to the metre, with the last one answered
                if not rows or rows[0][1] < fetch or round(rows[0][2]) > rows[-1][3]:
                    return [r[0] for r in rows]
                fetch *= 4
    except (psycopg.OperationalError, psycopg.InterfaceError) as err:
        log.error("database unavailable: %s", type(err).__name__)
        pooled.invalidate(err)
        db.engine.dispose()  # the other pooled connections predate the failure too, as SQLAlchemy assumes
        raise DatabaseUnavailable() from None
    finally:
        if not conn.closed:
            conn.autocommit = False
        pooled.close()


# --- the same answer without PostGIS -------------------------------------------------

def _box(q: Question) -> list:
    """Conditions on (lat, lng) holding every point within the radius (a little more)."""
    dlat = math.degrees(q.radius / EARTH_RADIUS_M) * 1.01 + 1e-6
    conditions = [Station.lat >= q.lat - dlat, Station.lat <= q.lat + dlat]
    cos_lat = math.cos(math.radians(min(abs(q.lat) + dlat, 90.0)))
    if cos_lat > 1e-6:
        dlng = dlat / cos_lat
        if dlng < 180:
            lo, hi = q.lng - dlng, q.lng + dlng
            if lo < -180:
                conditions.append(or_(Station.lng >= lo + 360, Station.lng <= hi))
            elif hi > 180:
                conditions.append(or_(Station.lng >= lo, Station.lng <= hi - 360))
            else:
                conditions.append(and_(Station.lng >= lo, Station.lng <= hi))
    return conditions


@functools.lru_cache(maxsize=4096)
def _compiled(hours_text: str):
    return hours.compile_hours(json.loads(hours_text))


def _open(row, q: Question) -> bool:
    if hours.closed_on(row.closure, q.today):
        return False
    return hours.open_at_minute(_compiled(json.dumps(row.opening_hours, sort_keys=True)), q.weekday, q.minute)


def _item(row, distance: float, open_now: bool) -> str:
    return json.dumps({"id": row.id, "name": row.name, "address": row.address, "lat": row.lat, "lng": row.lng,
                       "distance_m": round(distance), "amenities": row.amenities, "open_now": open_now,
                       "opening_hours": hours.canonical(row.opening_hours), "phone": row.phone,
                       "closure": hours.canonical_closure(row.closure)},
                      ensure_ascii=False, separators=(",", ":"))


def _find_portable(q: Question) -> list[str]:
    wanted = set(q.amenities)
    stmt = select(Station.id, Station.name, Station.address, Station.lat, Station.lng, Station.phone,
                  Station.amenities, Station.opening_hours, Station.closure).where(Station.deleted_at.is_(None),
                                                                                   *_box(q))
    found = []
    try:
        for row in db.session.execute(stmt):
            distance = haversine_m(q.lat, q.lng, row.lat, row.lng)
            if distance > q.radius or not wanted.issubset(row.amenities or ()):
                continue
            open_now = _open(row, q)
            if q.open_only and not open_now:
                continue
            found.append((round(distance), row.id, distance, row, open_now))
    finally:
        db.session.rollback()
    found.sort(key=lambda f: (f[0], f[1]))
    return [_item(row, distance, open_now) for _, _, distance, row, open_now in found[:q.limit]]
