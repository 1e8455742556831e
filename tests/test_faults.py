"""Faults: Redis and PostgreSQL going away and coming back, WeChat down.

No request ever answers 500; outages answer 503 in the envelope, nothing is
half-written, and the service recovers without a restart.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time

import pytest
from sqlalchemy import func, select

import models.base
from models import AuditLog, Organization, db
from tests.conftest import IN_CI, _migrate, build_app
from tests.helpers import bearer, error_code, login_staff, login_worker, make_staff
from tests.support.servers import PostgresServer, RedisServer, find_pg_bin


def own_pg() -> PostgresServer:
    """A PostgreSQL cluster of the test's own, to stop and restart."""
    if find_pg_bin() is None:
        reason = "PostgreSQL server binaries not found (set PG_BIN or install postgresql-15)"
        if IN_CI:
            pytest.fail(reason + " — required with CI=true")
        pytest.skip(reason)
    return PostgresServer().start()


@pytest.fixture
def own_sqlite():
    """A SQLite database of the test's own, migrated: the test passes alone and in any order."""
    path = os.path.join(tempfile.mkdtemp(prefix="test-faults-"), "faults.db")
    return f"sqlite:///{path}"


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def own_redis():
    server = RedisServer().start(appendonly=True)
    yield server
    server.stop()


def test_redis_down_then_back(own_sqlite, fake_wechat_url, own_redis):
    app = build_app(own_sqlite, own_redis.url, fake_wechat_url)
    _migrate(app)
    client = app.test_client()
    token = login_worker(client, "redisfault")
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    own_redis.stop()
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 503
    assert error_code(resp) == "session_store_unavailable"
    resp = client.post("/api/v1/auth/wechat/login", json={"code": "dev-redisfault.x"})
    assert resp.status_code == 503
    assert error_code(resp) == "session_store_unavailable"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and error_code(ready) == "not_ready"
    assert ready.get_json()["error"]["details"]["unavailable"] == ["redis"]
    assert client.get("/livez").status_code == 200

    # the same persistent Redis returns: the session survived, no restart needed
    own_redis.start(appendonly=True)
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 200
    assert client.get("/readyz").status_code == 200


def test_fresh_redis_means_a_clean_relogin(own_sqlite, fake_wechat_url, own_redis):
    app = build_app(own_sqlite, own_redis.url, fake_wechat_url)
    _migrate(app)
    client = app.test_client()
    token = login_worker(client, "fresh")
    own_redis.stop()
    shutil.rmtree(own_redis.dir, ignore_errors=True)
    own_redis.dir = tempfile.mkdtemp(prefix="test-redis-")
    own_redis.start(appendonly=True)
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 401
    assert error_code(resp) == "unauthenticated"
    assert client.post("/api/v1/auth/wechat/login", json={"code": "dev-fresh.again"}).status_code == 200


@pytest.mark.postgres
def test_postgres_restart_under_load(redis_server, fake_wechat_url):
    """Four clerks keep creating organizations while PostgreSQL restarts: the
    requests caught by the restart answer 503 ``database_unavailable`` (never a
    500), the pool recovers unaided, and nothing is half-written."""
    pg = own_pg()
    try:
        url = pg.create_database("faults")
        app = build_app(url, redis_server.url, fake_wechat_url)
        _migrate(app)
        make_staff(app, "fault_admin", "admin")
        token = login_staff(app.test_client(), "fault_admin")
        answers: list[tuple[int, str | None]] = []  # (status, error code) of every request
        lock = threading.Lock()
        stop = threading.Event()

        def hammer(n):
            client = app.test_client()
            i = 0
            while not stop.is_set():
                i += 1
                resp = client.post("/api/v1/admin/organizations", headers=bearer(token),
                                   json={"name": f"压力测试工会{n}-{i}"})
                body = resp.get_json(silent=True) or {}
                with lock:
                    answers.append((resp.status_code, (body.get("error") or {}).get("code")))

        def successes() -> int:
            with lock:
                return sum(1 for status, _ in answers if status == 201)

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: successes() >= 20, 60, "requests before the restart")
            pg.restart()  # returns once PostgreSQL accepts connections again
            after = successes()
            wait_until(lambda: successes() >= after + 20, 60, "requests after the restart")
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert set(answers) <= {(201, None), (503, "database_unavailable")}, sorted(set(answers))
        assert (503, "database_unavailable") in answers  # the restart really hit requests in flight
        # the pool recovered: requests succeed again without restarting the app
        resp = app.test_client().post("/api/v1/admin/organizations", headers=bearer(token), json={"name": "恢复后"})
        assert resp.status_code == 201
        # nothing half-written: each organization has exactly its audit entry, and
        # every success was kept (a commit whose answer was lost may add one more)
        created = sum(1 for status, _ in answers if status == 201)
        with app.app_context():
            orgs = db.session.scalar(select(func.count()).select_from(Organization))
            audits = db.session.scalar(select(func.count()).select_from(AuditLog)
                                       .where(AuditLog.action == "organization.create"))
            db.session.remove()
            db.engine.dispose()
        assert orgs == audits
        assert created + 1 <= orgs <= created + 1 + 4
    finally:
        pg.stop()


@pytest.mark.postgres
def test_a_connection_idle_across_a_postgres_restart_is_replaced_unseen(redis_server, fake_wechat_url,
                                                                        monkeypatch):
    """Pooled connections are not pinged on every checkout, only after sitting idle: the
    first request after a quiet restart of PostgreSQL still succeeds."""
    pg = own_pg()
    try:
        app = build_app(pg.create_database("idle"), redis_server.url, fake_wechat_url)
        _migrate(app)
        make_staff(app, "idle_admin", "admin")
        token = login_staff(app.test_client(), "idle_admin")
        client = app.test_client()
        assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
        pg.restart()
        monkeypatch.setattr(models.base, "IDLE_PING_SECONDS", 0.0)  # as if the pool had been quiet a while
        for _ in range(3):  # every pooled connection died with the restart; each is replaced on checkout
            assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
        with app.app_context():
            db.engine.dispose()
    finally:
        pg.stop()
