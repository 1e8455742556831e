"""Breakfast points, as the breakfast manager keeps them."""
from __future__ import annotations

from service.common import clock
from tests.breakfast.helpers import (
    POINT,
    check_in,
    create_point,
    eligible_worker,
    quick_staff_token,
    scene_of,
    setup_city,
)
from tests.helpers import bearer, error_code, make_org, outcome


def test_create_list_and_change_a_point(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff, geofence_m=300)
    assert point["organization_id"] == org  # the manager's own organization by default
    assert (point["serving_start"], point["serving_end"], point["daily_quota"]) == ("05:30", "08:30", 320)
    assert point["geofence_m"] == 300 and point["active"] is True and point["qr_generation"] == 1
    assert point["created_at"].endswith("+08:00")

    resp = client.patch(f"/api/v1/admin/breakfast/points/{point['id']}",
                        json={"serving_end": "09:00", "daily_quota": 350, "geofence_m": None},
                        headers=bearer(staff))
    assert resp.status_code == 200, resp.get_json()
    changed = resp.get_json()
    assert (changed["serving_end"], changed["daily_quota"], changed["geofence_m"]) == ("09:00", 350, None)
    assert client.get(f"/api/v1/admin/breakfast/points/{point['id']}", headers=bearer(staff)).get_json() == changed

    create_point(client, staff, name="停用的早餐点", active=False)
    listing = client.get("/api/v1/admin/breakfast/points", headers=bearer(staff)).get_json()
    assert listing["total"] == 2 and listing["page"] == 1
    assert client.get("/api/v1/admin/breakfast/points?active=true", headers=bearer(staff)).get_json()["total"] == 1

    admin = quick_staff_token(app, "admin", org)
    log = client.get("/api/v1/admin/audit-log", headers=bearer(admin)).get_json()["items"]
    actions = [e["action"] for e in log]
    assert actions.count("breakfast.point.create") == 2 and actions.count("breakfast.point.update") == 1


def test_point_validation_in_chinese(client, app):
    org, staff = setup_city(app, client)
    cases = [
        ({"serving_start": "08:30", "serving_end": "05:30"}, "serving_end"),
        ({"serving_start": "05:30", "serving_end": "05:30"}, "serving_end"),
        ({"serving_start": "5:30"}, "serving_start"),
        ({"serving_end": "24:00"}, "serving_end"),
        ({"daily_quota": 0}, "daily_quota"),
        ({"lat": 91}, "lat"),
        ({"geofence_m": 0}, "geofence_m"),
        ({"name": ""}, "name"),
        ({"unknown": 1}, "unknown"),
    ]
    for override, field in cases:
        resp = client.post("/api/v1/admin/breakfast/points", json={**POINT, **override}, headers=bearer(staff))
        assert resp.status_code == 422 and error_code(resp) == "validation_error", override
        assert field in resp.get_json()["error"]["details"]["fields"], (override, resp.get_json())
    point = create_point(client, staff)
    resp = client.patch(f"/api/v1/admin/breakfast/points/{point['id']}", json={"serving_end": "05:00"},
                        headers=bearer(staff))
    assert outcome(resp) == (422, "validation_error") and "serving_end" in resp.get_json()["error"]["details"]["fields"]
    assert "晚于" in resp.get_json()["error"]["details"]["fields"]["serving_end"][0]
    resp = client.patch(f"/api/v1/admin/breakfast/points/{point['id']}", json={"daily_quota": -1},
                        headers=bearer(staff))
    assert outcome(resp) == (422, "validation_error")
    assert "daily_quota" in resp.get_json()["error"]["details"]["fields"]


def test_points_are_scoped_by_organization(client, app):
    city = make_org(app, "扬州市总工会")
    guangling = make_org(app, "广陵区总工会", city)
    hanjiang = make_org(app, "邗江区总工会", city)
    city_staff = quick_staff_token(app, "breakfast_manager", city)
    district = quick_staff_token(app, "breakfast_manager", guangling)
    neighbour = quick_staff_token(app, "breakfast_manager", hanjiang)

    theirs = create_point(client, district)
    assert theirs["organization_id"] == guangling
    mine = create_point(client, city_staff, organization_id=hanjiang, name="邗江早餐点")
    assert mine["organization_id"] == hanjiang
    assert client.get("/api/v1/admin/breakfast/points", headers=bearer(city_staff)).get_json()["total"] == 2
    assert [p["id"] for p in client.get("/api/v1/admin/breakfast/points",
                                        headers=bearer(neighbour)).get_json()["items"]] == [mine["id"]]
    for method, suffix in (("GET", ""), ("PATCH", ""), ("GET", "/today"), ("GET", "/qr")):
        resp = client.open(f"/api/v1/admin/breakfast/points/{theirs['id']}{suffix}", method=method,
                           json={"active": False} if method == "PATCH" else None, headers=bearer(neighbour))
        assert outcome(resp) == (404, "not_found"), (method, suffix)
    resp = client.post("/api/v1/admin/breakfast/points", json={**POINT, "organization_id": guangling},
                       headers=bearer(neighbour))
    assert outcome(resp) == (422, "validation_error")
    assert "organization_id" in resp.get_json()["error"]["details"]["fields"]
    resp = client.patch(f"/api/v1/admin/breakfast/points/{mine['id']}", json={"organization_id": guangling},
                        headers=bearer(neighbour))
    assert outcome(resp) == (422, "validation_error")
    assert "organization_id" in resp.get_json()["error"]["details"]["fields"]


def test_lowering_the_quota_today_never_goes_below_what_was_served(client, app):
    org, staff = setup_city(app, client)
    point = create_point(client, staff, daily_quota=5)
    scene = scene_of(client, staff, point["id"])
    tokens = [eligible_worker(client, staff, f"w{i}") for i in range(3)]
    clock.freeze(clock.local(2026, 3, 10, 6, 0))
    for token in tokens[:2]:
        assert check_in(client, token, scene).status_code == 201
    resp = client.patch(f"/api/v1/admin/breakfast/points/{point['id']}", json={"daily_quota": 1},
                        headers=bearer(staff))
    assert resp.status_code == 200
    today = client.get(f"/api/v1/admin/breakfast/points/{point['id']}/today", headers=bearer(staff)).get_json()
    assert (today["served"], today["quota"], today["quota_left"]) == (2, 2, 0)
    assert error_code(check_in(client, tokens[2], scene)) == "daily_quota_reached"
    # Tomorrow the new quota of one applies.
    clock.freeze(clock.local(2026, 3, 11, 6, 0))
    assert check_in(client, tokens[2], scene).status_code == 201
    assert error_code(check_in(client, tokens[0], scene)) == "daily_quota_reached"
