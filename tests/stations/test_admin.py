"""Staff keep stations: create, change, delete, list; scoped to their organizations; audited."""
from __future__ import annotations

from sqlalchemy import select

from tests.helpers import bearer, error_code, make_org, staff_token
from tests.stations.support import body, create, nearby


def _audit_actions(app, action):
    from models import AuditLog, db
    with app.app_context():
        return db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def test_create_then_read_a_station(app, client):
    admin = staff_token(app, client, "admin")
    created = create(client, admin, "YZ-GL-001", east_m=10, amenities=["charging", "water", "water"],
                     opening_hours={"mon": ["8:00-20:00"]}, photos=["https://img.example.cn/a.jpg"],
                     closure={"from": "2026-03-01", "until": None, "reason": "维修"})
    assert created["code"] == "YZ-GL-001"
    assert created["amenities"] == ["water", "charging"]
    assert created["opening_hours"]["mon"] == ["08:00-20:00"] and created["opening_hours"]["sun"] == []
    assert created["organization_id"] is None  # whole-federation staff: a city-level station
    detail = client.get(f"/api/v1/stations/{created['id']}")
    assert detail.status_code == 200
    got = detail.get_json()
    assert got["name"] == "驿站YZ-GL-001" and got["photos"] == ["https://img.example.cn/a.jpg"]
    assert got["closure"] == {"from": "2026-03-01", "until": None, "reason": "维修"}
    assert got["updated_at"].endswith("+08:00")
    assert len(_audit_actions(app, "station.create")) == 1


def test_a_taken_code_is_409(client, app):
    admin = staff_token(app, client, "admin")
    create(client, admin, "DUP")
    other = create(client, admin, "OTHER")
    resp = client.post("/api/v1/admin/stations", json=body("DUP"), headers=bearer(admin))
    assert resp.status_code == 409 and error_code(resp) == "station_code_taken"
    resp = client.patch(f"/api/v1/admin/stations/{other['id']}", json={"code": "DUP"}, headers=bearer(admin))
    assert resp.status_code == 409 and error_code(resp) == "station_code_taken"


def test_a_deleted_stations_code_can_be_used_again(client, app):
    admin = staff_token(app, client, "admin")
    old = create(client, admin, "AGAIN")
    assert client.delete(f"/api/v1/admin/stations/{old['id']}", headers=bearer(admin)).status_code == 204
    assert client.get(f"/api/v1/stations/{old['id']}").status_code == 404
    assert client.delete(f"/api/v1/admin/stations/{old['id']}", headers=bearer(admin)).status_code == 404
    new = create(client, admin, "AGAIN")
    assert new["id"] != old["id"]
    assert len(_audit_actions(app, "station.delete")) == 1


def test_bad_bodies_are_422_naming_the_field(client, app):
    admin = staff_token(app, client, "admin")
    cases = [
        ({"amenities": ["water", "sauna"]}, "amenities", "sauna"),
        ({"lat": 95}, "lat", None),
        ({"lng": 200}, "lng", None),
        ({"opening_hours": {"mon": ["25:00-26:00"]}}, "opening_hours", None),
        ({"opening_hours": "sometimes"}, "opening_hours", None),
        ({"closure": {"from": "2026-03-05", "until": "2026-03-01"}}, "closure.until", None),
        ({"photos": ["ftp://x/y.jpg"]}, "photos.0", None),
        ({"code": "has space"}, "code", None),
        ({"unknown_field": 1}, "unknown_field", None),
    ]
    for extra, field, word in cases:
        resp = client.post("/api/v1/admin/stations", json={**body("BAD"), **extra}, headers=bearer(admin))
        assert resp.status_code == 422, (extra, resp.get_json())
        fields = resp.get_json()["error"]["details"]["fields"]
        assert field in fields, (extra, fields)
        if word:
            assert word in fields[field][0]
    missing = client.post("/api/v1/admin/stations", json={"code": "X"}, headers=bearer(admin))
    assert set(missing.get_json()["error"]["details"]["fields"]) >= {"name", "address", "lat", "lng",
                                                                      "opening_hours"}


def test_staff_see_and_change_only_their_organizations_stations(app, client):
    city = make_org(app, "扬州市总工会")
    guangling = make_org(app, "广陵区总工会", city)
    hanjiang = make_org(app, "邗江区总工会", city)
    admin = staff_token(app, client, "admin")
    gl_manager = staff_token(app, client, "station_manager", guangling)
    federation_level = create(client, admin, "CITY-1")
    hj = create(client, admin, "HJ-1", organization_id=hanjiang)
    own = create(client, gl_manager, "GL-1", east_m=5)
    assert own["organization_id"] == guangling  # their one organization, by default

    listed = client.get("/api/v1/admin/stations", headers=bearer(gl_manager)).get_json()
    assert [s["code"] for s in listed["items"]] == ["GL-1"] and listed["total"] == 1
    for station in (federation_level, hj):
        resp = client.patch(f"/api/v1/admin/stations/{station['id']}", json={"name": "x"},
                            headers=bearer(gl_manager))
        assert resp.status_code == 404
        assert client.delete(f"/api/v1/admin/stations/{station['id']}",
                             headers=bearer(gl_manager)).status_code == 404
    resp = client.post("/api/v1/admin/stations", json=body("GL-2", organization_id=hanjiang),
                       headers=bearer(gl_manager))
    assert resp.status_code == 422 and "organization_id" in resp.get_json()["error"]["details"]["fields"]
    resp = client.patch(f"/api/v1/admin/stations/{own['id']}", json={"organization_id": None},
                        headers=bearer(gl_manager))
    assert resp.status_code == 422
    everything = client.get("/api/v1/admin/stations", headers=bearer(admin)).get_json()
    assert everything["total"] == 3


def test_staff_with_several_organizations_must_choose(app, client):
    from tests.helpers import login_staff, make_staff

    city = make_org(app, "市总")
    a = make_org(app, "甲区", city)
    b = make_org(app, "乙区", city)
    make_staff(app, "two_orgs", "station_manager", a)
    with app.app_context():
        from models import StaffRole, StaffUser, db
        staff_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == "two_orgs"))
        db.session.add(StaffRole(staff_id=staff_id, role="station_manager", organization_id=b))
        db.session.commit()
    token = login_staff(client, "two_orgs")
    resp = client.post("/api/v1/admin/stations", json=body("T-1"), headers=bearer(token))
    assert resp.status_code == 422 and "organization_id" in resp.get_json()["error"]["details"]["fields"]
    assert create(client, token, "T-1", organization_id=b)["organization_id"] == b


def test_search_by_name_code_or_address_and_paging(app, client):
    admin = staff_token(app, client, "admin")
    create(client, admin, "YZ-GL-001", name="文昌阁驿站", address="广陵区文昌中路")
    create(client, admin, "YZ-HJ-001", name="京华城驿站", address="邗江区文昌西路")
    create(client, admin, "YZ-JD-001", name="龙川驿站", address="江都区龙川广场")
    create(client, admin, "YZ_100", name="满意度100%驿站", address="测试路")

    def codes(**q):
        return [s["code"] for s in client.get("/api/v1/admin/stations", query_string=q,
                                              headers=bearer(admin)).get_json()["items"]]
    assert sorted(codes(q="文昌")) == ["YZ-GL-001", "YZ-HJ-001"]
    assert codes(q="yz-jd") == ["YZ-JD-001"]
    assert codes(q="龙川广场") == ["YZ-JD-001"]
    assert codes(q="%") == ["YZ_100"]
    assert codes(q="_") == ["YZ_100"]
    page = client.get("/api/v1/admin/stations", query_string={"per_page": 3, "page": 2},
                      headers=bearer(admin)).get_json()
    assert page["total"] == 4 and len(page["items"]) == 1 and page["per_page"] == 3


def test_clearing_a_closure_reopens_the_station(app, client):
    admin = staff_token(app, client, "admin")
    station = create(client, admin, "C1", closure={"from": "2000-01-01", "until": None, "reason": "停用"})
    assert nearby(client).get_json()["items"][0]["open_now"] is False
    resp = client.patch(f"/api/v1/admin/stations/{station['id']}", json={"closure": None}, headers=bearer(admin))
    assert resp.status_code == 200 and resp.get_json()["closure"] is None
    item = nearby(client).get_json()["items"][0]
    assert item["open_now"] is True and item["closure"] is None
    assert len(_audit_actions(app, "station.update")) == 1
