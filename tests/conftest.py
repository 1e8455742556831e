"""Fixtures: the app on SQLite and on PostgreSQL, a real Redis, the fake WeChat over HTTP.

- ``app`` / ``client`` run each test that uses them on both databases
  (``[sqlite]`` and ``[postgres]`` in the test id).  ``pg_app`` / ``pg_client``
  are PostgreSQL only, for races.
- Each test starts from empty tables, an empty Redis and a running clock.
- Without PostgreSQL binaries, or without PostGIS on that server (the
  nearby search needs it, migration 0014 creates the extension), the
  PostgreSQL cases skip with the reason; with ``CI=true`` they fail instead.
"""
from __future__ import annotations

import os
import tempfile

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, text

from tests.support.servers import PostgresServer, RedisServer, find_pg_bin

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# --- servers ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_client(redis_server):
    return redis_lib.Redis.from_url(redis_server.url)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason + " — required with CI=true")
    pytest.skip(reason)


def require_postgis(url: str) -> None:
    """Skip (fail with ``CI=true``) when the PostgreSQL server at ``url`` cannot create the PostGIS extension."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'"))
    finally:
        engine.dispose()
    if not found:
        _unavailable("PostGIS is not installed on the PostgreSQL server (apt-get install postgresql-15-postgis-3)")


@pytest.fixture(scope="session")
def pg_server():
    if os.environ.get("TEST_DATABASE_URL"):
        require_postgis(os.environ["TEST_DATABASE_URL"])
        yield None
        return
    if find_pg_bin() is None:
        _unavailable("PostgreSQL server binaries not found (set PG_BIN or install postgresql-15)")
    server = PostgresServer().start()
    try:
        require_postgis(server.url("postgres"))
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_wechat_url(redis_client):
    from wechat.fake import make_server

    server = make_server(redis_client)
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


# --- databases, migrated once per session -----------------------------------------

def _migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


@pytest.fixture(scope="session")
def sqlite_url():
    path = os.path.join(tempfile.mkdtemp(prefix="test-sqlite-"), "test.db")
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def pg_url(pg_server):
    if pg_server is None:
        return os.environ["TEST_DATABASE_URL"]
    return pg_server.create_database("service_test")


def build_app(database_url: str, redis_url: str, wechat_url: str, **overrides):
    from service import create_app

    cfg = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "WECHAT_API_BASE": wechat_url,
        "WECHAT_TIMEOUT": 2.0,
        "RATELIMIT_ENABLED": True,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 20, "max_overflow": 60,
                                      "pool_timeout": 30},
    }
    cfg.update(overrides)
    return create_app(cfg, env="testing")


_apps: dict[str, object] = {}


def _session_app(kind, request):
    if kind not in _apps:
        if kind == "postgres":
            url = request.getfixturevalue("pg_url")
        else:
            url = request.getfixturevalue("sqlite_url")
        app = build_app(url, request.getfixturevalue("redis_server").url,
                        request.getfixturevalue("fake_wechat_url"))
        _migrate(app)
        _apps[kind] = app
    return _apps[kind]


def clean(app, redis_client) -> None:
    """Empty every table and Redis, and let the clock run."""
    from models import db
    from service.common import clock

    clock.freeze(None)
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for t in tables:
                    conn.execute(text(f'DELETE FROM "{t}"'))
                has_seq = conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first()
                if has_seq:
                    conn.execute(text("DELETE FROM sqlite_sequence"))
    redis_client.flushall()
    app.extensions["wechat"].reset()
    app.extensions.pop("breakfast_points", None)  # the check-in's snapshots of points (ids restart)


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def app(request, redis_client):
    application = _session_app(request.param, request)
    clean(application, redis_client)
    yield application
    from models import db
    from service.common import clock
    clock.freeze(None)
    with application.app_context():
        db.session.remove()


@pytest.fixture
def pg_app(request, redis_client):
    application = _session_app("postgres", request)
    clean(application, redis_client)
    yield application
    from service.common import clock
    clock.freeze(None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def pg_client(pg_app):
    return pg_app.test_client()


@pytest.fixture
def db_session(app):
    """An app context with ``db.session`` for arranging data directly."""
    from models import db
    with app.app_context():
        yield db.session
        db.session.remove()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "pg_app" in getattr(item, "fixturenames", ()) or "pg_client" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
