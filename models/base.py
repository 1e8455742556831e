"""The SQLAlchemy handle, naming convention and column types shared by all tables.

``db`` lives here, in the lowest layer, so that models never import the app.
"""
from __future__ import annotations

import datetime as dt
import time

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, Index, MetaData, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

# Stable constraint names on SQLite and PostgreSQL, so that autogenerate and
# batch migrations agree on both.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# expire_on_commit=False: a use case's objects stay readable after its commit,
# so rendering the response never goes back to the database (an outage after
# a successful commit must not turn a success into an error).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (UTC).

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text.  Naive
    values are refused on the way in: every time in the service is aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def unique_where(name: str, *columns: str, where: str) -> Index:
    """A partial unique index, the same on SQLite and PostgreSQL: unique among the rows ``where`` holds."""
    return Index(name, *columns, unique=True, sqlite_where=text(where), postgresql_where=text(where))


# JSON that is JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL, a busy timeout and foreign keys on every SQLite connection.

    The driver's own transaction handling is turned off so that ``_sqlite_begin``
    can open every transaction with ``BEGIN IMMEDIATE``: a writer then waits
    for the lock up front (busy timeout) instead of failing with "database is
    locked" when it upgrades a read lock half-way through.
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


IDLE_PING_SECONDS = 10.0


@event.listens_for(Pool, "checkin")
def _note_idle(dbapi_connection, connection_record):
    connection_record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_after_idle(dbapi_connection, connection_record, connection_proxy):
    """Ping a pooled connection only when it sat idle for a while.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, as
    much as the one statement of a hot path.  A connection handed on within
    seconds is alive in practice; one idle longer (the server may have
    restarted meanwhile) is pinged, and a dead one is replaced before the
    request sees it (``DisconnectionError`` makes the pool connect afresh).  A
    connection dying mid-burst still fails one statement; SQLAlchemy then
    invalidates the whole pool, so the next requests reconnect.
    """
    since = connection_record.info.get("idle_since")
    if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()
    except Exception as err:
        raise DisconnectionError("connection failed its ping") from err
