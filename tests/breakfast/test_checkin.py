"""Checking in at 5:40: the contract's rules, in its order, and what the worker sees."""
from __future__ import annotations

import datetime as dt

from service.common import clock
from tests.breakfast.helpers import PEAK, add_to_roster, check_in, create_point, eligible_worker, scene_of, setup_city
from tests.helpers import bearer, bind_phone, error_code, login_worker, outcome


def test_check_in_once_a_day(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    scene = scene_of(client, staff, point["id"])
    token = eligible_worker(client, staff)
    clock.freeze(PEAK)

    resp = check_in(client, token, scene)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["point"] == {"id": point["id"], "name": point["name"]}
    assert body["serving_date"] == "2026-03-10"
    assert body["checked_in_at"] == "2026-03-10T05:40:00+08:00"

    clock.advance(minutes=20)
    again = check_in(client, token, scene)
    assert again.status_code == 409
    assert error_code(again) == "already_checked_in"
    details = again.get_json()["error"]["details"]
    assert details["checked_in_at"] == "2026-03-10T05:40:00+08:00"
    assert details["point_name"] == point["name"]

    # The next morning is a new serving day.
    clock.freeze(PEAK + dt.timedelta(days=1))
    assert check_in(client, token, scene).status_code == 201

    mine = client.get("/api/v1/breakfast/checkins/mine?month=2026-03", headers=bearer(token)).get_json()
    assert mine["total"] == 2 and mine["month"] == "2026-03"
    assert [i["serving_date"] for i in mine["items"]] == ["2026-03-11", "2026-03-10"]
    assert client.get("/api/v1/breakfast/checkins/mine?month=2026-02", headers=bearer(token)).get_json()["total"] == 0
    # Default: the current month in Asia/Shanghai.
    assert client.get("/api/v1/breakfast/checkins/mine", headers=bearer(token)).get_json()["total"] == 2
    bad = client.get("/api/v1/breakfast/checkins/mine?month=2026-13", headers=bearer(token))
    assert bad.status_code == 422 and error_code(bad) == "validation_error"


def test_already_checked_in_counts_at_any_point(client, app):
    org, staff = setup_city(app, client)
    first = create_point(client, staff)
    second = create_point(client, staff, name="江阳中路爱心早餐点")
    token = eligible_worker(client, staff)
    clock.freeze(PEAK)
    assert check_in(client, token, scene_of(client, staff, first["id"])).status_code == 201
    resp = check_in(client, token, scene_of(client, staff, second["id"]))
    assert error_code(resp) == "already_checked_in"
    assert resp.get_json()["error"]["details"]["point_name"] == first["name"]
    today = client.get(f"/api/v1/admin/breakfast/points/{second['id']}/today", headers=bearer(staff)).get_json()
    assert today["served"] == 0 and today["quota_left"] == 320


def test_a_new_phone_is_not_a_second_breakfast_the_same_day(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    scene = scene_of(client, staff, point["id"])
    token = eligible_worker(client, staff, "zhao", phone="13952799001")
    clock.freeze(PEAK)
    assert check_in(client, token, scene).status_code == 201
    # Same morning: the worker changed numbers, the roster got a row for the new one,
    # they bound it in WeChat and claimed it, which moved them to the new entry.
    add_to_roster(client, staff, "职工zhao", "13952799002")
    bind_phone(client, token, "13952799002")
    assert client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(token)).status_code == 200
    clock.advance(minutes=5)
    again = check_in(client, token, scene)
    assert again.status_code == 409 and error_code(again) == "already_checked_in"
    assert again.get_json()["error"]["details"]["point_name"] == point["name"]
    today = client.get(f"/api/v1/admin/breakfast/points/{point['id']}/today", headers=bearer(staff)).get_json()
    assert today["served"] == 1
    # The next morning the new entry is the one that eats.
    clock.freeze(PEAK + dt.timedelta(days=1))
    assert check_in(client, token, scene).status_code == 201


def test_rules_apply_in_the_spec_order(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff, geofence_m=200, daily_quota=1)
    scene = scene_of(client, staff, point["id"])
    outsider = login_worker(client, "outsider")
    bind_phone(client, outsider, "13911112222")
    eater = eligible_worker(client, staff, "eater")
    other = eligible_worker(client, staff, "other")
    near = {"lat": point["lat"] + 0.0005, "lng": point["lng"]}  # about 56 m north
    far = {"lat": point["lat"] + 0.01, "lng": point["lng"]}  # about 1.1 km north

    # 1. qr_invalid beats everything (an outsider, at night, far away, with a forged scene).
    clock.freeze(clock.local(2026, 3, 10, 23, 0))
    forged = scene[:-1] + ("A" if scene[-1] != "A" else "B")
    assert outcome(check_in(client, outsider, forged, **far)) == (422, "qr_invalid")
    # 2. not_eligible beats an inactive point, the window and the geofence.
    client.patch(f"/api/v1/admin/breakfast/points/{point['id']}", json={"active": False}, headers=bearer(staff))
    resp = check_in(client, outsider, scene, **far)
    assert resp.status_code == 403 and error_code(resp) == "not_eligible"
    # 3. point_inactive beats the window.
    resp = check_in(client, eater, scene, **far)
    assert resp.status_code == 409 and error_code(resp) == "point_inactive"
    client.patch(f"/api/v1/admin/breakfast/points/{point['id']}", json={"active": True}, headers=bearer(staff))
    # 4. outside_serving_window beats the geofence; [05:30, 08:30) Asia/Shanghai.
    for at in (clock.local(2026, 3, 10, 5, 29, 59), clock.local(2026, 3, 10, 8, 30)):
        clock.freeze(at)
        resp = check_in(client, eater, scene, **far)
        assert resp.status_code == 409 and error_code(resp) == "outside_serving_window"
        assert resp.get_json()["error"]["details"] == {"serving_start": "05:30", "serving_end": "08:30"}
    # 5. too_far_from_point: missing or farther location.
    clock.freeze(clock.local(2026, 3, 10, 5, 30))
    resp = check_in(client, eater, scene, **far)
    assert resp.status_code == 422 and error_code(resp) == "too_far_from_point"
    assert resp.get_json()["error"]["details"]["geofence_m"] == 200
    assert 1000 < resp.get_json()["error"]["details"]["distance_m"] < 1200
    assert error_code(check_in(client, eater, scene)) == "too_far_from_point"
    assert check_in(client, eater, scene, **near).status_code == 201
    # 6. already_checked_in beats daily_quota_reached (quota 1 is used up now).
    assert error_code(check_in(client, eater, scene, **near)) == "already_checked_in"
    # 7. daily_quota_reached.
    resp = check_in(client, other, scene, **near)
    assert resp.status_code == 409 and error_code(resp) == "daily_quota_reached"
    today = client.get(f"/api/v1/admin/breakfast/points/{point['id']}/today", headers=bearer(staff)).get_json()
    assert (today["served"], today["quota"], today["quota_left"]) == (1, 1, 0)
    # The refused check-in left nothing behind: raising the quota lets the other worker in.
    client.patch(f"/api/v1/admin/breakfast/points/{point['id']}", json={"daily_quota": 2}, headers=bearer(staff))
    assert check_in(client, other, scene, **near).status_code == 201


def test_serving_day_is_the_shanghai_date(client, app):
    """08:00 in Yangzhou is midnight UTC: the serving day is the local date."""
    org, staff = setup_city(app, client)
    point = create_point(client, staff, serving_start="07:00", serving_end="09:00")
    scene = scene_of(client, staff, point["id"])
    token = eligible_worker(client, staff)
    clock.freeze(dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC))  # 2026-03-10 07:30 in Shanghai
    resp = check_in(client, token, scene)
    assert resp.status_code == 201
    assert resp.get_json()["serving_date"] == "2026-03-10"
    clock.freeze(dt.datetime(2026, 3, 10, 1, 0, tzinfo=dt.UTC))  # 09:00 local: closed
    assert error_code(check_in(client, token, scene)) == "outside_serving_window"
    clock.freeze(dt.datetime(2026, 3, 10, 0, 15, tzinfo=dt.UTC))  # 08:15 local, same day
    assert error_code(check_in(client, token, scene)) == "already_checked_in"


def test_deactivated_roster_entry_is_not_eligible(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    scene = scene_of(client, staff, point["id"])
    token = eligible_worker(client, staff, phone="13952719999")
    entry = client.post("/api/v1/admin/breakfast/roster/search", json={"q": "13952719999"},
                        headers=bearer(staff)).get_json()["items"][0]
    resp = client.patch(f"/api/v1/admin/breakfast/roster/{entry['id']}", json={"active": False}, headers=bearer(staff))
    assert resp.status_code == 200 and resp.get_json()["active"] is False
    clock.freeze(PEAK)
    assert error_code(check_in(client, token, scene)) == "not_eligible"
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["breakfast_eligible"] is False


def test_bad_bodies_are_422(client, app):
    org, staff = setup_city(app, client)
    token = eligible_worker(client, staff)
    for body in ({}, {"scene": 12}, {"scene": "b1.1.1.AAAAAAAAAAAAAAAA", "lat": "north"},
                 {"scene": "x", "extra": 1}, {"scene": "x", "lat": 91, "lng": 0}):
        resp = client.post("/api/v1/breakfast/checkins", json=body, headers=bearer(token))
        assert resp.status_code == 422 and error_code(resp) == "validation_error", body
    for scene in ("", "x" * 33, "b1.1.1.AAAAAAAAAAAAAAAA", "b1.zzzzzzzz.1.AAAAAAAAAAAAAAAA"):
        resp = check_in(client, token, scene)
        assert resp.status_code == 422 and error_code(resp) == "qr_invalid", scene


def test_check_ins_are_rate_limited_per_worker(client, app):
    org, staff = setup_city(app, client)
    token = eligible_worker(client, staff)
    limit = int(app.config["RATELIMIT_CHECKIN"].split()[0])
    outcomes = [outcome(check_in(client, token, "nope")) for _ in range(limit + 1)]
    assert outcomes == [(422, "qr_invalid")] * limit + [(429, "rate_limited")]
    # Another worker is not affected.
    other = eligible_worker(client, staff, "bob")
    assert outcome(check_in(client, other, "nope")) == (422, "qr_invalid")


def test_the_hot_path_is_lean(client, app, monkeypatch):
    """On PostgreSQL a check-in is one statement (one round trip, autocommit), after the
    process has read the point once; the caller's account row is never read.  SQLite runs
    the same steps as three statements in one transaction."""
    import psycopg
    from sqlalchemy import event

    from models import db

    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    scene = scene_of(client, staff, point["id"])
    first, second = eligible_worker(client, staff, "first"), eligible_worker(client, staff, "second")
    clock.freeze(PEAK)
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        # counted on psycopg's cursors: the check-in runs on the pooled psycopg connection itself
        execute = psycopg.Cursor.execute

        def counted(cursor, query, params=None, **kwargs):
            count(None, cursor, str(query), params, None, False)
            return execute(cursor, query, params, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    else:
        event.listen(engine, "before_cursor_execute", count)
    try:
        assert check_in(client, first, scene).status_code == 201
        cold = len(statements)
        statements.clear()
        assert check_in(client, second, scene).status_code == 201
    finally:
        if engine.dialect.name != "postgresql":
            event.remove(engine, "before_cursor_execute", count)
    warm = 1 if engine.dialect.name == "postgresql" else 3
    assert cold == warm + 1  # the point, read once per process
    assert len(statements) == warm, statements
    assert not any("FROM workers" in s for s in statements)


def test_a_change_to_the_point_applies_to_the_very_next_scan(client, app):
    """Each process judges scans on its copy of the point; every change reaches the next scan."""
    org, staff = setup_city(app, client)
    point = create_point(client, staff)
    url = f"/api/v1/admin/breakfast/points/{point['id']}"
    old_scene = scene_of(client, staff, point["id"])
    a, b, c = (eligible_worker(client, staff, name) for name in ("a", "b", "c"))
    clock.freeze(PEAK)
    assert check_in(client, a, old_scene).status_code == 201  # this process now holds the point
    new_scene = client.post(url + "/qr/rotate", headers=bearer(staff)).get_json()["scene"]
    assert "更换" in check_in(client, b, old_scene).get_json()["error"]["message"]
    assert check_in(client, b, new_scene).status_code == 201
    client.patch(url, json={"serving_end": "05:35"}, headers=bearer(staff))
    assert error_code(check_in(client, c, new_scene)) == "outside_serving_window"
    client.patch(url, json={"serving_end": "08:30", "daily_quota": 2}, headers=bearer(staff))
    resp = check_in(client, c, new_scene)
    assert error_code(resp) == "daily_quota_reached" and resp.get_json()["error"]["details"]["quota"] == 2
    client.patch(url, json={"daily_quota": 3, "geofence_m": 100}, headers=bearer(staff))
    assert error_code(check_in(client, c, new_scene)) == "too_far_from_point"
    resp = check_in(client, c, new_scene, lat=point["lat"], lng=point["lng"])
    assert resp.status_code == 201 and resp.get_json()["point"]["name"] == point["name"]


def test_the_plain_body_reading_agrees_with_the_schema(app):
    """The check-in reads its usual body without the schema only when the schema would take it
    exactly as sent; every other body goes to the schema (and its 422 field messages)."""
    import json

    import marshmallow as ma
    from flask import request

    from service.breakfast import schemas

    schema = schemas.BreakfastCheckinBodySchema()
    bodies = [{"scene": "b1.x"}, {"scene": ""}, {"scene": "x", "lat": 32.39, "lng": 119.4},
              {"scene": "x", "lat": None, "lng": None}, {"scene": "x", "lat": -90, "lng": 180},
              {"scene": "x", "lat": 90.0, "lng": -180.0}, {"scene": "x", "lat": 0}, {"scene": "场景\u0000"},
              {}, {"scene": 12}, {"scene": None}, {"scene": "x", "lat": "32"}, {"scene": "x", "lat": True},
              {"scene": "x", "lat": 90.0001}, {"scene": "x", "lng": -181}, {"scene": "x", "lat": float("nan")},
              {"scene": "x", "lng": float("inf")}, {"scene": "x", "extra": 1}, {"scene": "x", "lat": 10**400},
              [], "x", None, 3]
    for body in bodies:
        raw = json.dumps(body).encode()
        with app.test_request_context("/", method="POST", data=raw, content_type="application/json"):
            plain = schemas.plain_checkin_body(request)
        if plain is None:
            continue
        loaded = schema.load(body)  # taken as it is, never refused
        assert plain == (loaded["scene"], loaded["lat"], loaded["lng"]), body
        assert all(type(v) is float for v in plain[1:] if v is not None), body
    taken = 0
    for body in bodies:
        try:
            schema.load(body)
        except ma.ValidationError:
            with app.test_request_context("/", method="POST", data=json.dumps(body), content_type="application/json"):
                assert schemas.plain_checkin_body(request) is None, body
        else:
            taken += 1
    assert taken >= 8
    for raw, content_type in ((b'{"scene": "x"', "application/json"), ('{"scene": "x"}'.encode("utf-16"),
                              "application/json"), (b'{"scene": "x"}', "text/plain"),
                              (b'{"scene": "x"}', "application/merge-patch+json")):
        with app.test_request_context("/", method="POST", data=raw, content_type=content_type):
            assert schemas.plain_checkin_body(request) is None, raw


def test_the_answer_is_rendered_as_the_schema_renders_it(app):
    from flask import jsonify

    from service.breakfast import schemas

    for name in ("文昌中路爱心早餐点", 'a "quoted" \\ name', "表情😀\u2028", ""):
        for at in (dt.datetime(2026, 3, 9, 21, 40, tzinfo=dt.UTC),
                   dt.datetime(2026, 3, 9, 21, 40, 1, 250, tzinfo=dt.UTC)):
            result = {"id": 2**31 - 1, "point": {"id": 7, "name": name}, "serving_date": dt.date(2026, 3, 10),
                      "checked_in_at": at}
            with app.test_request_context("/"):
                fast = schemas.render_checkin(result)
                slow = jsonify(schemas.BreakfastCheckinSchema().dump(result))
            assert fast.status_code == 201
            assert fast.get_data() == slow.get_data(), name
            assert fast.headers["Content-Type"] == slow.headers["Content-Type"]


def test_bad_coordinates_keep_their_field_messages(client, app):
    org, staff = setup_city(app, client)
    token = eligible_worker(client, staff)
    for body, field in (({"scene": "x", "lat": True}, "lat"), ({"scene": "x", "lng": 181}, "lng"),
                        ({"scene": "x", "lat": float("nan")}, "lat")):
        resp = client.post("/api/v1/breakfast/checkins", json=body, headers=bearer(token))
        assert resp.status_code == 422 and error_code(resp) == "validation_error", body
        assert field in str(resp.get_json()["error"]["details"]), resp.get_json()
