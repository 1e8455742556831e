"""Faults: Redis and PostgreSQL going away and coming back, WeChat down.

No request ever answers 500; outages answer 503 in the envelope, nothing is
half-written, and the service recovers without a restart.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from tests.conftest import build_app
from tests.helpers import bearer, error_code, login_worker, make_staff, login_staff
from tests.support.servers import PostgresServer, RedisServer, find_pg_bin


@pytest.fixture
def own_redis():
    server = RedisServer().start(appendonly=True)
    yield server
    server.stop()


def test_redis_down_then_back(sqlite_url, fake_wechat_url, own_redis):
    app = build_app(sqlite_url, own_redis.url, fake_wechat_url)
    from tests.conftest import _migrate
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
    assert client.get("/readyz").status_code == 503
    assert client.get("/livez").status_code == 200

    # the same persistent Redis returns: the session survived, no restart needed
    own_redis.start(appendonly=True)
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 200
    assert client.get("/readyz").status_code == 200


def test_fresh_redis_means_a_clean_relogin(sqlite_url, fake_wechat_url, own_redis):
    app = build_app(sqlite_url, own_redis.url, fake_wechat_url)
    client = app.test_client()
    token = login_worker(client, "fresh")
    own_redis.stop()
    import shutil
    import tempfile
    shutil.rmtree(own_redis.dir, ignore_errors=True)
    own_redis.dir = tempfile.mkdtemp(prefix="test-redis-")
    own_redis.start(appendonly=True)
    resp = client.get("/api/v1/me", headers=bearer(token))
    assert resp.status_code == 401
    assert error_code(resp) == "unauthenticated"
    assert client.post("/api/v1/auth/wechat/login", json={"code": "dev-fresh.again"}).status_code == 200


@pytest.mark.postgres
def test_postgres_restart_under_load(redis_server, fake_wechat_url):
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries not found")
    pg = PostgresServer().start()
    try:
        url = pg.create_database("faults")
        app = build_app(url, redis_server.url, fake_wechat_url)
        from tests.conftest import _migrate
        _migrate(app)
        make_staff(app, "fault_admin", "admin")
        token = login_staff(app.test_client(), "fault_admin")
        statuses: list[int] = []
        lock = threading.Lock()
        stop = threading.Event()

        def hammer(n):
            client = app.test_client()
            i = 0
            while not stop.is_set():
                i += 1
                resp = client.post("/api/v1/admin/organizations", headers=bearer(token),
                                   json={"name": f"压力测试工会{n}-{i}"})
                with lock:
                    statuses.append(resp.status_code)
                if resp.status_code >= 500:
                    assert resp.get_json()["error"]["code"] == "database_unavailable"

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        pg.restart()
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        assert set(statuses) <= {201, 503}, sorted(set(statuses))
        # the pool recovered: requests succeed again without restarting the app
        client = app.test_client()
        resp = client.post("/api/v1/admin/organizations", headers=bearer(token), json={"name": "恢复后"})
        assert resp.status_code == 201
        # nothing half-written: each organization has exactly its audit entry, and
        # every success was kept (a commit whose answer was lost may add one more)
        from models import AuditLog, Organization, db
        with app.app_context():
            orgs = db.session.scalar(select(func.count()).select_from(Organization))
            audits = db.session.scalar(select(func.count()).select_from(AuditLog)
                                       .where(AuditLog.action == "organization.create"))
        assert orgs == audits
        assert statuses.count(201) + 1 <= orgs <= statuses.count(201) + 1 + 4
    finally:
        pg.stop()


@pytest.mark.postgres
def test_a_connection_idle_across_a_postgres_restart_is_replaced_unseen(redis_server, fake_wechat_url,
                                                                        monkeypatch):
    """Pooled connections are not pinged on every checkout, only after sitting idle: the
    first request after a quiet restart of PostgreSQL still succeeds."""
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries not found")
    import models.base

    pg = PostgresServer().start()
    try:
        app = build_app(pg.create_database("idle"), redis_server.url, fake_wechat_url)
        from tests.conftest import _migrate
        _migrate(app)
        make_staff(app, "idle_admin", "admin")
        token = login_staff(app.test_client(), "idle_admin")
        client = app.test_client()
        assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
        pg.restart()
        monkeypatch.setattr(models.base, "IDLE_PING_SECONDS", 0.0)  # as if the pool had been quiet a while
        for _ in range(3):  # every pooled connection died with the restart; each is replaced on checkout
            assert client.get("/api/v1/organizations", headers=bearer(token)).status_code == 200
    finally:
        pg.stop()
