"""The obvious nearby search, for the ``peer`` benchmark: what a competent engineer would write in an afternoon.

A bare Flask app: a psycopg_pool ``ConnectionPool`` (autocommit, so a read is
one round trip), Flask-Limiter on Redis per client address (fixed window, as
the service), and one PostGIS statement on the service's own table and GiST
index (migration 0014)::

    SELECT … FROM stations
    WHERE deleted_at IS NULL AND ST_DWithin(geog, :point, :radius, false) [AND amenities @> :wanted]
    ORDER BY geog <-> :point LIMIT :n

The item's fields are the service's; ``open_now`` comes from
``service/stations/hours.py`` (a pure module) for each row, and with
``open_now=true`` the statement is run again with a larger ``LIMIT`` until
enough open stations are found or the radius is exhausted.  Distances are the
sphere's (``<->``), as the service's, so that both answers can be compared.
``/livez`` is the bare Flask floor.

Served by ``gunicorn -c config/gunicorn.conf.py bench.peer_app:app`` with the
same environment as the service; the service never imports this module.
"""
from __future__ import annotations

import json
import os
import threading

from flask import Flask, abort, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from psycopg_pool import ConnectionPool

from service.common import clock
from service.stations.hours import is_open

AMENITIES = {"water", "hot_meal", "charging", "toilet", "rest", "nursing_room", "air_conditioning", "first_aid",
             "wifi", "repair_kit", "umbrella"}

SQL = """
SELECT id, name, address, lat, lng, phone, amenities, opening_hours, closure,
       geog <-> ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography AS d
FROM stations
WHERE deleted_at IS NULL
  AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography, %(radius)s, false)
  AND amenities @> %(wanted)s::jsonb
ORDER BY geog <-> ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography
LIMIT %(n)s
"""

app = Flask(__name__)
_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()


def pool() -> ConnectionPool:
    """The worker's pool, opened at its first request: gunicorn imports this module before it
    forks the workers (preload), and a pool's threads and connections do not survive a fork."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ConnectionPool(os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://"),
                                       min_size=2, max_size=8, kwargs={"autocommit": True}, open=True)
    return _pool
limiter = Limiter(get_remote_address, app=app, storage_uri=os.environ["REDIS_URL"], strategy="fixed-window",
                  swallow_errors=True)


def _number(name: str, default=None, low=None, high=None, cast=float):
    raw = request.args.get(name)
    if raw is None:
        if default is None:
            abort(422)
        return default
    try:
        value = cast(raw)
    except ValueError:
        abort(422)
    if (low is not None and value < low) or (high is not None and value > high):
        abort(422)
    return value


@app.get("/livez")
def livez():
    return jsonify(status="ok")


@app.get("/api/v1/stations/nearby")
@limiter.limit(os.environ.get("RATELIMIT_NEARBY", "120 per minute"))
def nearby():
    lat = _number("lat", low=-90, high=90)
    lng = _number("lng", low=-180, high=180)
    radius = _number("radius_m", 3000, 1, 50000, int)
    limit = _number("limit", 20, 1, 50, int)
    wanted = [a for a in request.args.get("amenities", "").split(",") if a]
    if not set(wanted) <= AMENITIES:
        abort(422)
    open_only = request.args.get("open_now") == "true"
    now = clock.local_now()
    params = {"lat": lat, "lng": lng, "radius": float(radius), "wanted": json.dumps(wanted)}
    fetch = limit
    while True:
        with pool().connection() as conn:
            rows = conn.execute(SQL, {**params, "n": fetch}).fetchall()
        items = []
        for sid, name, address, la, ln, phone, amenities, hours, closure, d in rows:
            open_now = is_open(hours, closure, now)
            if open_only and not open_now:
                continue
            items.append({"id": sid, "name": name, "address": address, "lat": la, "lng": ln,
                          "distance_m": round(d), "amenities": amenities, "open_now": open_now,
                          "opening_hours": hours, "phone": phone, "closure": closure or None})
        if len(items) >= limit or len(rows) < fetch:
            break
        fetch *= 4
    items.sort(key=lambda i: (i["distance_m"], i["id"]))
    return jsonify(items=items[:limit])
