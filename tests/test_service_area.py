"""Service areas (docs/contract.md §5): where an organization's stations and breakfast points may lie.

A place outside the organization's service area (its own, else its nearest
ancestor's) or outside China is refused with 422 ``outside_service_area``
naming the distance, unless the clerk confirms it; imports refuse such rows.
"""
from __future__ import annotations

import re

from tests.breakfast.helpers import POINT, quick_staff_token
from tests.helpers import bearer, error_code, make_org
from tests.stations.support import body, csv_upload, import_file

YANGZHOU = {"lat": 32.394, "lng": 119.413}
BEIJING = (39.9042, 116.4074)
HARBIN = (45.8038, 126.5350)
KASHGAR = (39.4704, 75.9898)  # in China; written the other way round it is still a valid lat/lng pair
WITHIN = re.compile(r"^位置不在(\S+)的服务区域内：距离服务区域中心 ([\d,.]+) (公里|米)，超出服务半径 (\S+ (?:公里|米))")


def set_area(client, token, org_id, area):
    return client.patch(f"/api/v1/admin/organizations/{org_id}", json={"service_area": area}, headers=bearer(token))


def city_with_area(app, client, radius_m=50_000):
    city = make_org(app, "扬州市总工会")
    admin = quick_staff_token(app, "admin", None)
    resp = set_area(client, admin, city, {**YANGZHOU, "radius_m": radius_m})
    assert resp.status_code == 200, resp.get_json()
    return city, admin


def station(client, token, code, lat, lng, **extra):
    return client.post("/api/v1/admin/stations", json=body(code, lat=lat, lng=lng, **extra), headers=bearer(token))


def test_an_admin_sets_and_clears_a_service_area(app, client):
    city = make_org(app, "扬州市总工会")
    district = make_org(app, "广陵区总工会", city)
    other = make_org(app, "邗江区总工会", city)
    district_admin = quick_staff_token(app, "admin", district)
    resp = set_area(client, district_admin, district, {"lat": 32.39, "lng": 119.44, "radius_m": 8000})
    assert resp.status_code == 200
    assert resp.get_json()["service_area"] == {"lat": 32.39, "lng": 119.44, "radius_m": 8000}
    bad = set_area(client, district_admin, district, {"lat": 0, "lng": 0, "radius_m": 0})
    assert bad.status_code == 422 and error_code(bad) == "validation_error"
    fields = bad.get_json()["error"]["details"]["fields"]
    assert fields["service_area.lat"] == ["中心纬度应在中国境内（3.8 到 53.6）"]
    assert fields["service_area.radius_m"] == ["服务半径应在 100 米到 5000 公里之间"]
    assert set_area(client, district_admin, other, {**YANGZHOU, "radius_m": 1000}).status_code == 404
    cleared = set_area(client, district_admin, district, None)
    assert cleared.status_code == 200 and cleared.get_json()["service_area"] is None
    manager = quick_staff_token(app, "station_manager", district)
    assert set_area(client, manager, district, None).status_code == 403


def test_a_station_outside_the_service_area_is_refused_unless_confirmed(app, client):
    city, admin = city_with_area(app, client)
    district = make_org(app, "广陵区总工会", city)
    manager = quick_staff_token(app, "station_manager", district)

    resp = station(client, manager, "BJ-1", *BEIJING)  # the district has no area: the city's applies
    assert resp.status_code == 422 and error_code(resp) == "outside_service_area"
    error = resp.get_json()["error"]
    owner, distance, unit, radius = WITHIN.match(error["message"]).groups()
    assert (owner, unit, radius) == ("扬州市总工会", "公里", "50 公里")
    assert 850 <= int(distance) <= 950 and error["message"].endswith("。如确认位置无误，请确认后再保存")
    assert error["details"]["radius_m"] == 50_000 and error["details"]["service_area_organization_id"] == city
    assert 850_000 <= error["details"]["distance_m"] <= 950_000

    far = station(client, manager, "HRB-1", *HARBIN).get_json()["error"]["message"]
    assert re.search(r"距离服务区域中心 1,\d{3} 公里", far)

    confirmed = station(client, manager, "BJ-1", *BEIJING, confirm_outside_area=True)
    assert confirmed.status_code == 201, confirmed.get_json()
    sid = confirmed.get_json()["id"]
    renamed = client.patch(f"/api/v1/admin/stations/{sid}", json={"name": "北京驿站"}, headers=bearer(manager))
    assert renamed.status_code == 200  # not moved: not checked again

    inside = station(client, manager, "YZ-1", 32.40, 119.43)
    assert inside.status_code == 201
    moved = client.patch(f"/api/v1/admin/stations/{inside.get_json()['id']}", json={"lat": BEIJING[0],
                                                                                   "lng": BEIJING[1]},
                         headers=bearer(manager))
    assert moved.status_code == 422 and error_code(moved) == "outside_service_area"
    assert client.get(f"/api/v1/stations/{inside.get_json()['id']}").get_json()["lat"] == 32.40


def test_the_nearest_area_applies_and_china_is_the_outer_bound(app, client):
    city, admin = city_with_area(app, client)
    district = make_org(app, "广陵区总工会", city)
    assert set_area(client, admin, district, {"lat": 32.39, "lng": 119.44, "radius_m": 5000}).status_code == 200
    manager = quick_staff_token(app, "station_manager", district)
    resp = station(client, manager, "HJ-1", 32.39, 119.30)  # in the city's 50 km, not in the district's 5 km
    assert resp.status_code == 422
    assert WITHIN.match(resp.get_json()["error"]["message"]).group(1) == "广陵区总工会"
    assert "距离服务区域中心 13 公里，超出服务半径 5 公里" in resp.get_json()["error"]["message"]
    near = station(client, manager, "GL-9", 32.39, 119.53)  # 8.5 km east of the district's centre
    assert "距离服务区域中心 8.5 公里，超出服务半径 5 公里" in near.get_json()["error"]["message"]

    federation = quick_staff_token(app, "station_manager", None)
    zero = station(client, federation, "ZERO", 0, 0)  # a federation-level station: no area, China still
    assert zero.status_code == 422 and error_code(zero) == "outside_service_area"
    assert zero.get_json()["error"]["message"].startswith("坐标（纬度 0，经度 0）不在中国境内，请核对")
    swapped = station(client, federation, "SWAP", KASHGAR[1], KASHGAR[0])
    assert swapped.status_code == 422 and error_code(swapped) == "outside_service_area"
    assert "纬度和经度可能填反了" in swapped.get_json()["error"]["message"]
    assert swapped.get_json()["error"]["details"] == {"swapped": True}
    assert station(client, federation, "KASHGAR", *KASHGAR).status_code == 201
    over = station(client, federation, "SWAP-2", BEIJING[1], BEIJING[0])  # 116° is no latitude at all
    assert over.status_code == 422 and "lat" in over.get_json()["error"]["details"]["fields"]


def test_a_breakfast_point_outside_the_service_area(app, client):
    city, admin = city_with_area(app, client)
    manager = quick_staff_token(app, "breakfast_manager", city)
    resp = client.post("/api/v1/admin/breakfast/points", json={**POINT, "lat": BEIJING[0], "lng": BEIJING[1]},
                       headers=bearer(manager))
    assert resp.status_code == 422 and error_code(resp) == "outside_service_area"
    assert "超出服务半径 50 公里" in resp.get_json()["error"]["message"]
    ok = client.post("/api/v1/admin/breakfast/points", json=POINT, headers=bearer(manager))
    assert ok.status_code == 201
    pid = ok.get_json()["id"]
    moved = client.patch(f"/api/v1/admin/breakfast/points/{pid}", json={"lat": 0, "lng": 0}, headers=bearer(manager))
    assert moved.status_code == 422 and error_code(moved) == "outside_service_area"
    assert "不在中国境内" in moved.get_json()["error"]["message"]
    confirmed = client.patch(f"/api/v1/admin/breakfast/points/{pid}", json={"lat": BEIJING[0], "lng": BEIJING[1],
                                                                         "confirm_outside_area": True},
                             headers=bearer(manager))
    assert confirmed.status_code == 200 and confirmed.get_json()["lat"] == BEIJING[0]
    quota = client.patch(f"/api/v1/admin/breakfast/points/{pid}", json={"daily_quota": 100}, headers=bearer(manager))
    assert quota.status_code == 200  # not moved: not checked again


def test_an_import_refuses_rows_outside_the_area_and_names_swapped_coordinates(app, client):
    city, admin = city_with_area(app, client)
    manager = quick_staff_token(app, "station_manager", city)
    rows = [["编码", "名称", "地址", "纬度", "经度", "开放时间"],
            ["YZ-1", "扬州驿站", "扬州", 32.40, 119.43, "24h"],
            ["BJ-1", "北京驿站", "北京", BEIJING[0], BEIJING[1], "24h"],
            ["ZERO", "零点驿站", "某地", 0, 0, "24h"],
            ["SWAP", "填反驿站", "扬州", 119.43, 32.40, "24h"],
            ["KS-1", "喀什驿站", "喀什", KASHGAR[1], KASHGAR[0], "24h"]]
    result = import_file(client, manager, csv_upload(rows)).get_json()
    assert (result["created"], [r["key"] for r in result["rows"]]) == (1, ["YZ-1"])
    errors = {e["row"]: e["message"] for e in result["errors"]}
    assert errors[3].startswith("第 3 行：位置不在扬州市总工会的服务区域内：距离服务区域中心 ")
    assert errors[3].endswith("超出服务半径 50 公里")
    assert errors[4] == "第 4 行：坐标（纬度 0，经度 0）不在中国境内，请核对"
    assert "纬度和经度可能填反了" in errors[5]
    assert errors[6] == "第 6 行：坐标（纬度 75.9898，经度 39.4704）不在中国境内，纬度和经度可能填反了"
