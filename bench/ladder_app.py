"""The service exactly as production serves it, plus the rungs of a ladder (bench only).

Each rung answers with a fixed short body and adds, on top of the rung
below it, one part that a hot endpoint cannot do without under docs/contract.md:

- ``/bench/ladder/limited``: the per-client limit (one Redis script,
  ``limit_per_client``), as the nearby search has;
- ``/bench/ladder/select1``: that, plus one PostgreSQL round trip doing no
  work (``SELECT 1``, autocommit, on the pooled psycopg connection as the
  search runs): the least any search in the database can cost;
- ``/bench/ladder/postgis?lat&lng&radius_m``: the limit, plus one plain
  PostGIS statement on the stations' GiST index (nearest 20 within the
  radius, ids and distances only — no filters, no station fields, no
  argument validation): less than a nearby search can do;
- ``/bench/ladder/session``: a worker's Redis session and the per-worker
  check-in limit, as a check-in has;
- ``/bench/ladder/session-sql``: that, plus one ``SELECT 1`` on PostgreSQL
  (autocommit): less than a check-in's durable insert.

Measured beside ``/livez`` by the ``ladder`` scenario, the rungs show how
near the floor any implementation on this stack can come, and how much of a
real endpoint's cost is its own.  Served by ``gunicorn … bench.ladder_app:app``
only; the service never imports this module.
"""
from __future__ import annotations

from flask import Blueprint, Response, request
from sqlalchemy import text

from models import db
from service import create_app
from service.auth.permissions import limit_per_client, require_worker_session
from service.common.http import config_limit
from service.extensions import limiter, rate_limit_key

ladder = Blueprint("bench_ladder", __name__, url_prefix="/bench/ladder")

_OK = b'{"status":"ok"}'


# the two limits the hot endpoints have: per client address (nearby), per signed-in worker (check-in)
per_client = limit_per_client("RATELIMIT_NEARBY")
per_worker = limiter.limit(config_limit("RATELIMIT_CHECKIN"), key_func=rate_limit_key)


def _ok(body: bytes = _OK) -> Response:
    return Response(body, mimetype="application/json")


@ladder.get("/limited")
@per_client
def limited():
    return _ok()


_NEAREST = ("SELECT id, geog <-> ST_SetSRID(ST_MakePoint(%(lng)s::float8, %(lat)s::float8), 4326)::geography "
            "FROM stations WHERE deleted_at IS NULL AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint("
            "%(lng)s::float8, %(lat)s::float8), 4326)::geography, %(radius)s::float8, false) "
            "ORDER BY geog <-> ST_SetSRID(ST_MakePoint(%(lng)s::float8, %(lat)s::float8), 4326)::geography LIMIT 20")


def _fetch(statement: str, params: dict | None = None) -> list:
    """On the pooled psycopg connection in autocommit, as the nearby search runs its statement."""
    pooled = db.engine.raw_connection()
    conn = pooled.driver_connection
    try:
        conn.autocommit = True
        return conn.execute(statement, params).fetchall()
    finally:
        conn.autocommit = False
        pooled.close()


@ladder.get("/select1")
@per_client
def select1():
    _fetch("SELECT 1")
    return _ok()


@ladder.get("/postgis")
@per_client
def postgis():
    hits = _fetch(_NEAREST, {"lat": float(request.args["lat"]), "lng": float(request.args["lng"]),
                             "radius": float(request.args["radius_m"])})
    return _ok(b'{"items":[%s]}' % b",".join(b"[%d,%.1f]" % (ident, dist) for ident, dist in hits))


@ladder.post("/session")
@per_worker
@require_worker_session
def session():
    return _ok()


@ladder.post("/session-sql")
@per_worker
@require_worker_session
def session_sql():
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT 1")).all()
    return _ok()


app = create_app()
app.register_blueprint(ladder)
