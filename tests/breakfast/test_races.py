"""Races on PostgreSQL: the database keeps one breakfast per worker per day and the quota.

Threads wait behind a ``threading.Barrier`` and then call the API at once,
each through its own test client, as phones at a point's door at 5:40 do.
"""
from __future__ import annotations

import contextlib
from collections import Counter

import pytest
from sqlalchemy import func, select

from models import db
from models.breakfast import Checkin, DailyCount
from service.breakfast import bulk
from service.common import clock
from tests import helpers
from tests.breakfast.helpers import PEAK, create_point, eligible_worker, scene_of, setup_city
from tests.conftest import _migrate, build_app
from tests.helpers import bearer
from tests.test_faults import own_pg


@contextlib.contextmanager
def generous_rate_limit(app):
    """Lift the per-worker check-in limit so that what is measured here is the database."""
    saved = app.config["RATELIMIT_CHECKIN"]
    app.config["RATELIMIT_CHECKIN"] = "100000 per minute"
    try:
        yield
    finally:
        app.config["RATELIMIT_CHECKIN"] = saved


def race(app, calls) -> Counter:
    """``tests.helpers.race`` counted: how many calls ended with each (status, error code or None)."""
    return Counter(helpers.race(app, calls))


def post_checkin(token, scene):
    return lambda client: client.post("/api/v1/breakfast/checkins", json={"scene": scene}, headers=bearer(token))


def test_one_worker_scanning_a_hundred_times_at_once_eats_once(pg_app, pg_client):
    org, staff = setup_city(pg_app, pg_client)
    point = create_point(pg_client, staff)
    scene = scene_of(pg_client, staff, point["id"])
    token = eligible_worker(pg_client, staff)
    clock.freeze(PEAK)
    with generous_rate_limit(pg_app):
        outcome = race(pg_app, [post_checkin(token, scene)] * 100)
    assert outcome == Counter({(201, None): 1, (409, "already_checked_in"): 99})
    with pg_app.app_context():
        assert db.session.scalar(select(func.count(Checkin.id))) == 1
        assert db.session.scalar(select(DailyCount.served)) == 1


def test_two_hundred_workers_race_for_the_last_ten_breakfasts(pg_app, pg_client):
    org, staff = setup_city(pg_app, pg_client)
    point = create_point(pg_client, staff, daily_quota=30)
    scene = scene_of(pg_client, staff, point["id"])
    with pg_app.app_context():
        workers = bulk.create_eligible_workers(org, 220)
        tokens = bulk.issue_worker_tokens([w for w, _ in workers])
    clock.freeze(PEAK)
    for token in tokens[:20]:  # the early ones
        resp = pg_client.post("/api/v1/breakfast/checkins", json={"scene": scene}, headers=bearer(token))
        assert resp.status_code == 201, resp.get_json()
    with generous_rate_limit(pg_app):
        outcome = race(pg_app, [post_checkin(t, scene) for t in tokens[20:]])
    assert outcome == Counter({(201, None): 10, (409, "daily_quota_reached"): 190})
    with pg_app.app_context():
        assert db.session.scalar(select(func.count(Checkin.id))) == 30
        assert db.session.scalar(select(DailyCount.served).where(DailyCount.point_id == point["id"])) == 30
    today = pg_client.get(f"/api/v1/admin/breakfast/points/{point['id']}/today", headers=bearer(staff)).get_json()
    assert (today["served"], today["quota_left"]) == (30, 0)


def test_one_roster_entry_is_claimed_by_one_account(pg_app, pg_client):
    """Twenty WeChat accounts verified the same phone and claim at once: one wins."""
    from tests.breakfast.helpers import add_to_roster
    from tests.helpers import bind_phone, login_worker

    org, staff = setup_city(pg_app, pg_client)
    add_to_roster(pg_client, staff, "王建国", "13952710001")
    tokens = []
    for i in range(20):
        token = login_worker(pg_client, f"twin{i}")
        bind_phone(pg_client, token, "13952710001")
        tokens.append(token)
    outcome = race(pg_app, [
        (lambda t: lambda client: client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(t)))(t)
        for t in tokens])
    assert outcome == Counter({(200, None): 1, (409, "roster_entry_taken"): 19})


@pytest.mark.postgres
def test_a_postgresql_restart_costs_one_503_then_check_ins_go_on(redis_server, fake_wechat_url):
    """The check-in runs on the pooled psycopg connection itself: a connection lost to a restart
    answers 503 ``database_unavailable`` (no driver text), writes nothing, and the next scan works."""
    pg = own_pg()
    try:
        other = build_app(pg.create_database("checkin"), redis_server.url, fake_wechat_url)
        _migrate(other)
        client = other.test_client()
        org, staff = setup_city(other, client)
        point = create_point(client, staff)
        scene = scene_of(client, staff, point["id"])
        first, second = eligible_worker(client, staff, "first"), eligible_worker(client, staff, "second")
        clock.freeze(PEAK)
        assert client.post("/api/v1/breakfast/checkins", json={"scene": scene},
                           headers=bearer(first)).status_code == 201
        pg.restart()  # the pooled connection, used a moment ago, is not pinged: it fails in use
        lost = client.post("/api/v1/breakfast/checkins", json={"scene": scene}, headers=bearer(second))
        assert lost.status_code == 503 and lost.get_json()["error"]["code"] == "database_unavailable"
        assert "psycopg" not in lost.get_data(as_text=True)
        again = client.post("/api/v1/breakfast/checkins", json={"scene": scene}, headers=bearer(second))
        assert again.status_code == 201, again.get_json()
        with other.app_context():
            assert db.session.scalar(select(func.count()).select_from(Checkin)) == 2
            assert db.session.scalar(select(DailyCount.served)) == 2
            db.session.remove()
            db.engine.dispose()
    finally:
        clock.freeze(None)
        pg.stop()
