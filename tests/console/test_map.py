"""Stations and breakfast points on a map: Leaflet served by the service itself, the tile
host let in by the console's CSP and nothing else, MAP_TILE_URL checked at start, and the
station list's map of every station of its filter with a bbox filter (API and console)."""
from __future__ import annotations

import json
import re

import pytest

from config import ConfigError, load_config
from tests.conftest import build_app
from tests.console.conftest import api_token, signed_in
from tests.helpers import bearer
from tests.stations.support import create as create_station

AUTONAVI_STYLE = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
BASE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def map_points(page: str, kind: str = "list") -> list[dict]:
    return json.loads(re.search(rf'<script type="application/json" id="map-points-{kind}">(.*?)</script>',
                                page, re.S).group(1))


def test_leaflet_is_served_by_the_console_itself(client):
    script = client.get("/console/static/leaflet/leaflet.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"Leaflet 1.9.3" in script.data[:300] and "max-age=86400" in script.headers["Cache-Control"]
    assert client.get("/console/static/leaflet/leaflet.css").mimetype == "text/css"
    icon = client.get("/console/static/leaflet/images/marker-icon.png")
    assert icon.status_code == 200 and icon.data[:8] == b"\x89PNG\r\n\x1a\n"
    for other in ("leaflet-src.js", "../leaflet/leaflet.js", "images/../leaflet.js", "%2e%2e/__init__.py"):
        assert client.get(f"/console/static/leaflet/{other}").status_code == 404, other


def test_the_console_csp_lets_in_the_tile_host_and_nothing_else(sqlite_url, redis_server, fake_wechat_url):
    plain = build_app(sqlite_url, redis_server.url, fake_wechat_url).test_client()
    assert plain.get("/console/login").headers["Content-Security-Policy"] == BASE_CSP

    tiled = build_app(sqlite_url, redis_server.url, fake_wechat_url, MAP_TILE_URL=AUTONAVI_STYLE,
                      MAP_TILE_SUBDOMAINS="1234").test_client()
    hosts = " ".join(f"https://webrd0{n}.is.autonavi.com" for n in "1234")
    assert tiled.get("/console/login").headers["Content-Security-Policy"] == BASE_CSP.replace(
        "img-src 'self' data:", f"img-src 'self' data: {hosts}")
    # the docs page and the API gain nothing
    assert tiled.get("/api/v1/docs").headers["Content-Security-Policy"] == BASE_CSP
    assert "autonavi" not in tiled.get("/api/v1/organizations").headers["Content-Security-Policy"]

    one_host = build_app(sqlite_url, redis_server.url, fake_wechat_url,
                         MAP_TILE_URL="http://10.0.0.8:8080/tiles/{z}/{x}/{y}.png").test_client()
    assert "img-src 'self' data: http://10.0.0.8:8080;" in one_host.get("/console/login").headers[
        "Content-Security-Policy"]


@pytest.mark.parametrize("settings, message", [
    ({"MAP_TILE_URL": "tiles.example.cn/{z}/{x}/{y}.png"}, "MAP_TILE_URL must be an http(s) address template"),
    ({"MAP_TILE_URL": "ftp://tiles.example.cn/{z}/{x}/{y}.png"}, "MAP_TILE_URL must be an http(s) address template"),
    ({"MAP_TILE_URL": "https://tiles.example.cn/{z}/{x}.png"}, "MAP_TILE_URL must hold {z}, {x} and {y}"),
    ({"MAP_TILE_URL": "https://tiles.example.cn; script-src *;/{z}/{x}/{y}.png"}, "MAP_TILE_URL must be an http"),
    ({"MAP_TILE_URL": "https://tiles.example.cn/{z}/{x}/{y}.png?a='b'"}, "no spaces, quotes, commas or semicolons"),
    ({"MAP_TILE_URL": AUTONAVI_STYLE, "MAP_TILE_SUBDOMAINS": ""}, "MAP_TILE_SUBDOMAINS must be letters or digits"),
    ({"MAP_TILE_URL": AUTONAVI_STYLE, "MAP_TILE_SUBDOMAINS": "1 2"}, "MAP_TILE_SUBDOMAINS must be letters or digits"),
])
def test_a_bad_tile_setting_is_a_one_line_configuration_error(settings, message):
    with pytest.raises(ConfigError) as caught:
        load_config("testing", settings)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_tiles_must_be_https_in_production():
    secrets = {"SECRET_KEY": "s-3kQ9vX2mLp8RtY6wZ4nB7cD1fG5hJ0aE", "PII_KEY": "p-Hn4Jk8Lm2Qw6Er0Ty3Ui7Op1As5Df9Gh",
               "QR_KEY": "q-Zx1Cv5Bn9Mm3Kl7Jh2Gf6Ds0Aq4We8Rt", "WECHAT_SECRET": "w-Pl0Ok9Ij8Uh7Yg6Tf5Rd4Es3Wa2Qz1Xc",
               "WECHAT_APPID": "wx1234567890abcdef", "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@h/db",
               "REDIS_URL": "redis://h:6379/0", "WECHAT_API_BASE": "https://api.weixin.qq.com/"}
    with pytest.raises(ConfigError, match="MAP_TILE_URL must use https in production"):
        load_config("production", {**secrets, "MAP_TILE_URL": "http://tiles.example.cn/{z}/{x}/{y}.png"})
    cfg = load_config("production", {**secrets, "MAP_TILE_URL": AUTONAVI_STYLE, "MAP_TILE_SUBDOMAINS": "1234"})
    assert cfg["MAP_TILE_URL"] == AUTONAVI_STYLE
    assert load_config("testing")["MAP_TILE_URL"] == ""  # no tiles unless the operator sets them


@pytest.fixture
def stations(app, client, city):
    """25 stations 100 m apart going east from Yangzhou's centre, and one in the sibling district."""
    token = api_token(app, "station_manager", city["district"])
    made = [create_station(client, token, f"YZ-{n:03d}", east_m=100 * n) for n in range(25)]
    create_station(client, api_token(app, "station_manager", city["other"]), "HJ-001")
    return made


def test_the_api_filters_the_list_by_a_map_view(app, client, city, stations):
    token = api_token(app, "station_manager", city["district"])
    west, east = stations[5]["lng"] - 1e-6, stations[9]["lng"] + 1e-6
    box = f"{west},32.39,{east},32.40"
    listed = client.get("/api/v1/admin/stations", query_string={"bbox": box}, headers=bearer(token)).get_json()
    assert sorted(s["code"] for s in listed["items"]) == [f"YZ-{n:03d}" for n in range(5, 10)]
    # Chinese separators and spaces, as a clerk pastes them
    pasted = client.get("/api/v1/admin/stations", query_string={"bbox": f"{west}， 32.39， {east}，32.40"},
                        headers=bearer(token)).get_json()
    assert pasted["total"] == 5
    for bad, message in (("119.4,32.39,119.5", "地图范围应为“西,南,东,北”四个数字（经度,纬度,经度,纬度）"),
                         ("a,b,c,d", "地图范围应为“西,南,东,北”四个数字（经度,纬度,经度,纬度）"),
                         ("32.39,119.4,32.40,119.5", "纬度应在 -90 到 90 之间（地图范围的顺序为 西,南,东,北）"),
                         ("119.5,32.39,119.4,32.40", "西边的经度不能大于东边，南边的纬度不能大于北边"),
                         ("181,32,182,33", "经度应在 -180 到 180 之间（地图范围的顺序为 西,南,东,北）")):
        resp = client.get("/api/v1/admin/stations", query_string={"bbox": bad}, headers=bearer(token))
        body = resp.get_json()
        assert resp.status_code == 422 and body["error"]["code"] == "validation_error", bad
        assert body["error"]["details"]["fields"] == {"bbox": [message]}, bad


def test_the_list_map_shows_every_station_of_the_filter_not_only_this_page(app, client, city, stations):
    manager = signed_in(app, client, "station_manager", city["district"])
    page = manager.text("/console/stations/")
    points = map_points(page)
    assert len(points) == 25 and page.count("/edit\">编辑</a>") == 20  # the map has all, the table one page
    assert {p["code"] for p in points} == {f"YZ-{n:03d}" for n in range(25)}  # the sibling's is out of scope
    first = next(p for p in points if p["code"] == "YZ-000")
    assert (first["lat"], first["lng"]) == (stations[0]["lat"], stations[0]["lng"])
    assert first["url"] == f"/console/stations/{stations[0]['id']}/edit"
    assert "地图底图未配置" in page and 'data-tile-url=""' in page
    assert '<input type="hidden" name="bbox" value="" disabled>' in page

    west, east = stations[5]["lng"] - 1e-6, stations[9]["lng"] + 1e-6
    page = manager.text(f"/console/stations/?q=YZ&bbox={west},32.39,{east},32.40")
    assert len(map_points(page)) == 5 and page.count("/edit\">编辑</a>") == 5
    assert f'data-bbox="{west},32.39,{east},32.4"' in page and "data-map-in-view checked" in page
    page = manager.text("/console/stations/?bbox=32.39,119.4,32.40,119.5")  # lat and lng swapped
    assert "地图范围：纬度应在 -90 到 90 之间（地图范围的顺序为 西,南,东,北）" in page
    assert len(map_points(page)) == 25  # the bad filter is dropped, the list still shows


def test_the_forms_place_a_point_among_its_neighbours(app, client, city, stations):
    manager = signed_in(app, client, "station_manager", city["district"])
    form = manager.text(f"/console/stations/{stations[0]['id']}/edit")
    assert 'data-map="picker"' in form and "在地图上点击或拖动标记" in form
    neighbours = {p["code"] for p in map_points(form, "picker")}
    assert neighbours == {f"YZ-{n:03d}" for n in range(25)}  # all within 5 km of it
    assert 'href="/console/static/leaflet/leaflet.css"' in form and 'src="/console/static/map.js"' in form

    breakfast = signed_in(app, client, "breakfast_manager", city["root"])
    token = api_token(app, "breakfast_manager", city["root"])
    resp = client.post("/api/v1/admin/breakfast/points", headers=bearer(token), json={
        "name": "文昌中路爱心早餐点", "address": "扬州市广陵区文昌中路 118 号", "lat": 32.39452, "lng": 119.43631,
        "serving_start": "05:30", "serving_end": "08:30", "daily_quota": 320})
    assert resp.status_code == 201
    new_form = breakfast.text("/console/breakfast/points/new")
    assert [p["name"] for p in map_points(new_form, "picker")] == ["文昌中路爱心早餐点"]
    listed = map_points(breakfast.text("/console/breakfast/"))
    assert listed == [{"id": resp.get_json()["id"], "name": "文昌中路爱心早餐点", "code": None, "lat": 32.39452,
                       "lng": 119.43631, "url": f"/console/breakfast/points/{resp.get_json()['id']}"}]
