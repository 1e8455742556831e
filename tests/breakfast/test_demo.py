"""Done when: the demo worker eats one breakfast and the staff report counts it."""
from __future__ import annotations

from service.common import clock
from tests.helpers import bearer, bind_phone, error_code, login_staff, login_worker


def seed(app):
    with app.app_context():  # `flask --app wsgi seed-demo` pushes one too
        result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output


def test_demo_worker_checks_in_once_and_the_report_counts_it(client, app):
    clock.freeze(clock.local(2026, 3, 10, 5, 40))
    seed(app)
    seed(app)  # idempotent

    worker = login_worker(client, "alice")
    bind_phone(client, worker, "13800138000")
    claim = client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(worker))
    assert claim.status_code == 200 and claim.get_json()["employer"] == "扬州市环境卫生管理处"
    assert client.get("/api/v1/me", headers=bearer(worker)).get_json()["breakfast_eligible"] is True

    staff = login_staff(client, "breakfast", "Breakfast@2026")
    points = client.get("/api/v1/admin/breakfast/points", headers=bearer(staff)).get_json()
    assert points["total"] == 3
    assert sorted(p["daily_quota"] for p in points["items"]) == [300, 320, 500]
    point = next(p for p in points["items"] if p["name"].startswith("广陵区"))
    scene = client.get(f"/api/v1/admin/breakfast/points/{point['id']}/qr", headers=bearer(staff)).get_json()["scene"]

    at_the_door = {"scene": scene, "lat": point["lat"] + 0.0003, "lng": point["lng"]}
    first = client.post("/api/v1/breakfast/checkins", json=at_the_door, headers=bearer(worker))
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["point"]["name"] == point["name"]
    again = client.post("/api/v1/breakfast/checkins", json=at_the_door, headers=bearer(worker))
    assert again.status_code == 409 and error_code(again) == "already_checked_in"

    report = client.get("/api/v1/admin/breakfast/report?month=2026-03", headers=bearer(staff)).get_json()
    assert report["total_servings"] == 1 and report["distinct_workers"] == 1
    assert report["workers"][0]["phone"] == "138****8000"
    # Last month's demo history gives the ingredient estimate something to go on.
    february = client.get("/api/v1/admin/breakfast/report?month=2026-02", headers=bearer(staff)).get_json()
    assert february["total_servings"] > 300 and february["ingredients"]["rice_kg"] > 0
    roster = client.get("/api/v1/admin/breakfast/roster?per_page=100", headers=bearer(staff)).get_json()
    assert roster["total"] == 20


def test_the_demo_has_a_point_to_try_a_check_in_at_any_hour(client, app):
    clock.freeze(clock.local(2026, 3, 10, 4, 50))  # before any morning point serves
    seed(app)
    worker = login_worker(client, "alice")
    bind_phone(client, worker, "13800138000")
    assert client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(worker)).status_code == 200
    staff = login_staff(client, "breakfast", "Breakfast@2026")
    points = client.get("/api/v1/admin/breakfast/points", headers=bearer(staff)).get_json()["items"]
    [all_day] = [p for p in points if p["serving_start"] == "00:00" and p["serving_end"] == "23:59"]
    assert all_day["geofence_m"] is None and "全天供应" in all_day["name"]
    morning = next(p for p in points if p["name"].startswith("邗江区"))

    def scan(point):
        scene = client.get(f"/api/v1/admin/breakfast/points/{point['id']}/qr", headers=bearer(staff)).get_json()
        return client.post("/api/v1/breakfast/checkins", json={"scene": scene["scene"]}, headers=bearer(worker))

    refused = scan(morning)
    assert refused.status_code == 409 and error_code(refused) == "outside_serving_window"
    served = scan(all_day)  # no location sent: no geofence to be inside of
    assert served.status_code == 201, served.get_json()
    clock.freeze(clock.local(2026, 3, 10, 23, 30))
    again = scan(all_day)
    assert again.status_code == 409 and error_code(again) == "already_checked_in"
    clock.freeze(clock.local(2026, 3, 11, 23, 30))  # late the next evening
    assert scan(all_day).status_code == 201
