"""Tables of the stations feature: outdoor-worker rest stations and workers' problem reports.

Invariants kept by the database:
- A station's ``code`` is unique among live stations: partial unique index
  ``uq_stations_code_live`` on ``code WHERE deleted_at IS NULL`` (a deleted
  station keeps its row as the tombstone of the offline sync; its code may be
  used again).
- Coordinates within range: CHECK ``lat_range`` (±``LAT_MAX``, the latitudes a
  Web Mercator map such as WeChat's can show) / ``lng_range``.
- One open report per worker, station and kind: partial unique index
  ``uq_station_reports_open`` on ``(station_id, worker_id, kind) WHERE status = 'open'``;
  kinds and statuses by CHECK.

PostgreSQL alone keeps two more columns and an index (migration 0011), for the
nearby search (``service/stations/search.py``): ``geog``, a PostGIS
``geography(Point, 4326)`` generated from (lng, lat); ``open_week``, the
minutes of the week the opening hours say open (``int4multirange``),
generated from ``opening_hours``; and ``ix_stations_geog_live``, a GiST index
on ``geog`` over the live stations.  PostgreSQL computes them on every write,
so no code sets them.  They are not mapped (SQLite has no such columns); the
search names them in its SQL, and ``include_in_autogenerate`` keeps alembic's
comparison of models and database from reporting them.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import JSONType, UTCDateTime, db, unique_where

AMENITIES = ("water", "hot_meal", "charging", "toilet", "rest", "nursing_room", "air_conditioning",
             "first_aid", "wifi", "repair_kit", "umbrella")
REPORT_KINDS = ("closed", "wrong_location", "facility_broken", "other")
REPORT_STATUSES = ("open", "resolved")
LAT_MAX = 85.05112878
POSTGRESQL_ONLY = frozenset({"geog", "open_week", "ix_stations_geog_live"})
POSTGIS_TABLES = frozenset({"spatial_ref_sys"})


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's ``include_object`` hook: everything but what PostgreSQL alone keeps on ``stations``
    and the PostGIS extension's own table."""
    if type_ == "table":
        return name not in POSTGIS_TABLES
    table = getattr(obj, "table", None)
    return not (name in POSTGRESQL_ONLY and table is not None and table.name == "stations")


class Station(db.Model):
    """A union rest station (户外劳动者驿站).

    ``opening_hours`` is ``"24h"`` or ``{mon: [...], ..., sun: [...]}`` (see
    ``service/stations/hours.py``); ``closure`` ``{from, until, reason}`` or NULL;
    ``amenities`` a list of codes of ``AMENITIES``; ``lat``/``lng`` GCJ-02.
    ``organization_id`` NULL: a federation-level station.  ``deleted_at`` set:
    soft-deleted (kept as the sync tombstone).
    """

    __tablename__ = "stations"
    __table_args__ = (
        CheckConstraint(f"lat >= -{LAT_MAX} AND lat <= {LAT_MAX}", name="lat_range"),
        CheckConstraint("lng >= -180 AND lng <= 180", name="lng_range"),
        unique_where("uq_stations_code_live", "code", where="deleted_at IS NULL"),
        Index("ix_stations_updated_at_id", "updated_at", "id"),
        Index("ix_stations_lat_lng", "lat", "lng"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(255))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(32))
    amenities: Mapped[list] = mapped_column(JSONType, default=list)
    opening_hours: Mapped[object] = mapped_column(JSONType)
    closure: Mapped[dict | None] = mapped_column(JSONType)
    photos: Mapped[list] = mapped_column(JSONType, default=list)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StationReport(db.Model):
    """A worker's report of a problem at a station, open until staff resolve it.

    ``worker_id`` becomes NULL (and the comment is removed) when the worker
    erases their data; the report itself stays for the station's record.
    """

    __tablename__ = "station_reports"
    __table_args__ = (
        CheckConstraint(_in("kind", REPORT_KINDS), name="kind"),
        CheckConstraint(_in("status", REPORT_STATUSES), name="status"),
        unique_where("uq_station_reports_open", "station_id", "worker_id", "kind", where="status = 'open'"),
        Index("ix_station_reports_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    resolution_note: Mapped[str | None] = mapped_column(String(500))
