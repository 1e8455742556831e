"""The console's main journeys in a real browser (headless Chromium) against a live server:
sign in, approve an application, import a roster, print a QR poster, read the annual figures."""
from __future__ import annotations

import math
import re

import pytest

from service.common import clock
from tests.console.conftest import PASSWORD, api_token, make_clerk, screenshots
from tests.enrollment import apply, make_id
from tests.helpers import login_worker, make_org
from tests.stations.support import create as create_station

pytestmark = pytest.mark.browser


def sign_in(page, username, expect_title="工作台"):
    page.goto("/console/")
    assert "/console/login" in page.url
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/")
    assert page.locator("h1").first.inner_text().startswith(expect_title)


def flash_texts(page) -> list[str]:
    return page.locator(".flash").all_inner_texts()


def test_sign_in_and_approve_an_application(page, live):
    root = make_org(live, "扬州市总工会")
    district = make_org(live, "广陵区总工会", root)
    api = live.test_client()
    id_number = make_id("19900101", "male")
    assert apply(api, login_worker(api, "xiaoming"), district, id_number=id_number).status_code == 201
    sign_in(page, make_clerk(live, "enrollment_reviewer", root, display_name="李审核"))
    assert page.locator(".summary-enrollment .stat").inner_text() == "1"

    page.get_by_role("link", name="入会审核").click()
    row = page.locator("tbody tr", has_text="王小明")
    assert id_number not in row.inner_text() and id_number[-4:] in row.inner_text()
    row.get_by_role("link", name="查看").click()
    assert page.locator(".id-number").inner_text() == id_number[:3] + "*" * 11 + id_number[-4:]
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="通过").click()
    page.wait_for_selector(".flash-success")
    assert "已通过，已生成会员编号并通知申请人" in flash_texts(page)
    assert re.fullmatch(rf"{district:04d}-\d{{4}}-000001", page.locator(".member-no").inner_text())

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/console/login")
    page.goto("/console/enrollment/")
    assert "/console/login" in page.url


def test_import_a_roster(page, live):
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "breakfast_manager", root))
    page.get_by_role("link", name="爱心早餐").click()
    page.get_by_role("link", name="名册").click()
    content = "姓名,手机号,单位\n张三,13952710001,广陵环卫所\n李四,13952710002,广陵环卫所\n王五,12345,广陵环卫所\n"
    page.locator("input[type=file]").set_input_files(
        {"name": "名册.csv", "mimeType": "text/csv", "buffer": content.encode("utf-8")})
    page.get_by_role("button", name="导入名册").click()
    result = page.locator("#import-result")
    result.wait_for()
    assert result.locator(".num-created").inner_text() == "2"
    assert result.locator(".num-errors").inner_text() == "1"
    assert "4" in result.locator("tbody td").first.inner_text()  # the bad row's number
    assert page.get_by_role("cell", name="139****0001").is_visible()
    assert "13952710001" not in page.content()


def test_print_a_qr_poster(page, live):
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "breakfast_manager", root))
    page.goto("/console/breakfast/points/new")
    page.get_by_label("名称").fill("文昌中路爱心早餐点")
    page.get_by_label("地址").fill("扬州市广陵区文昌中路 118 号")
    page.get_by_label("纬度（GCJ-02）").fill("32.39452")
    page.get_by_label("经度（GCJ-02）").fill("119.43631")
    page.get_by_label("每日份数").fill("320")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector(".flash-success")
    page.locator("tr", has_text="文昌中路爱心早餐点").get_by_role("link", name="二维码海报").click()

    poster = page.locator(".poster img")
    poster.wait_for()
    page.wait_for_load_state("load")  # images included
    assert page.evaluate("document.querySelector('.poster img').naturalWidth") > 0
    page.evaluate("window.__printed = false; window.print = () => { window.__printed = true; }")
    page.get_by_role("button", name="打印海报").click()
    assert page.evaluate("window.__printed") is True
    page.emulate_media(media="print")
    assert not page.locator(".menu").is_visible() and not page.locator(".topbar").is_visible()
    assert poster.is_visible()
    assert page.pdf(format="A4")[:4] == b"%PDF"


def test_read_the_annual_figures_on_a_tablet(page, live):
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    root = make_org(live, "扬州市总工会")
    api = live.test_client()
    assert apply(api, login_worker(api, "xiaoming"), root).status_code == 201
    page.set_viewport_size({"width": 820, "height": 1180})
    sign_in(page, make_clerk(live, "admin", root))
    page.get_by_role("link", name="年度统计").click()
    assert page.locator("input[name=year]").input_value() == "2026"
    assert page.locator("h1").inner_text() == "2026 年度工作报告数据"
    enrollment = page.locator(".annual-section", has_text="入会")
    assert enrollment.locator("tr", has_text="入会申请数").locator("td.num").inner_text() == "1"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    with page.expect_download() as info:
        page.get_by_role("link", name="下载 Excel").click()
    assert info.value.suggested_filename == "年度统计-2026.xlsx"
    screenshots(page, "annual")


# --- stations on the map ---------------------------------------------------------------------

def world_pixel(lat: float, lng: float, zoom: int) -> tuple[float, float]:
    """Web Mercator: where a point lies on the world map at ``zoom``, in pixels of 256-pixel tiles."""
    size = 256 * 2 ** zoom
    sin = math.sin(math.radians(lat))
    return (lng + 180) / 360 * size, (0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)) * size


def from_world_pixel(x: float, y: float, zoom: int) -> tuple[float, float]:
    size = 256 * 2 ** zoom
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / size))))
    return lat, x / size * 360 - 180


def station_row(live, code: str):
    from sqlalchemy import select

    from models import db
    from models.station import Station
    with live.app_context():
        return db.session.execute(select(Station.id, Station.lat, Station.lng).where(Station.code == code)).one()


def wait_count(page, selector: str, count: int) -> None:
    """The page shows exactly ``count`` elements of ``selector``, once the ``count``-th is there (a map
    draws its markers when its script has run).  Locators, not wait_for_function: the console's CSP
    refuses the eval that the latter's polling needs."""
    page.locator(selector).nth(count - 1).wait_for(state="attached")
    assert page.locator(selector).count() == count


def listed_codes(page) -> list[str]:
    return sorted(page.locator("tbody tr td:first-child").all_inner_texts())


def test_stations_on_the_map_and_a_station_moved_by_clicking(page, live):
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    root = make_org(live, "扬州市总工会")
    token = api_token(live, "station_manager", root)
    api = live.test_client()
    # 文昌阁 in the middle of the four, 东关街 500 m from it, the other two some kilometres out
    for code, name, north_m, east_m in (("YZ-GL-001", "文昌阁驿站", 0, 0), ("YZ-GL-002", "东关街驿站", 300, 400),
                                        ("YZ-GL-003", "运河驿站", 2000, 3000), ("YZ-HJ-001", "邗江驿站", -2000, -3000)):
        create_station(api, token, code, north_m, east_m, name=name)
    sign_in(page, make_clerk(live, "station_manager", root))
    page.get_by_role("link", name="驿站管理").click()

    markers = ".map-list path.leaflet-interactive"
    wait_count(page, markers, 4)
    page.locator(".leaflet-tile-loaded").first.wait_for()  # an image from the tile host: the CSP lets it in
    assert page.evaluate("document.querySelector('.leaflet-tile-loaded').naturalWidth") == 256
    assert page.locator(".leaflet-control-scale").is_visible()
    assert page.locator(".leaflet-control-attribution").inner_text() == "测试底图"
    assert not page.locator(".map-note").is_visible()  # tiles are configured
    screenshots(page, "stations-list")

    # only the stations in the map's view: zoomed in on 文昌阁, 东关街 stays and the other two go
    page.locator(".leaflet-control-zoom-in").click()
    page.locator(".leaflet-control-zoom-in").click()
    page.get_by_label("只看地图范围内").check()
    page.wait_for_url("**bbox=*")
    wait_count(page, markers, 2)
    assert listed_codes(page) == ["YZ-GL-001", "YZ-GL-002"]
    assert page.get_by_label("只看地图范围内").is_checked()
    screenshots(page, "stations-list-in-view")
    # moving the map offers the new view as the filter
    page.locator(".leaflet-control-zoom-out").click()
    page.locator(".leaflet-control-zoom-out").click()
    page.locator(".leaflet-control-zoom-out").click()
    with page.expect_navigation():
        page.get_by_role("button", name="按当前地图范围筛选").click()
    wait_count(page, markers, 4)
    assert listed_codes(page) == ["YZ-GL-001", "YZ-GL-002", "YZ-GL-003", "YZ-HJ-001"] and "bbox=" in page.url
    page.get_by_label("只看地图范围内").uncheck()
    page.wait_for_url(re.compile(r"^(?!.*bbox=).*$"))
    assert len(listed_codes(page)) == 4 and page.locator("input[name=bbox]").is_disabled()

    page.locator("tr", has_text="YZ-GL-001").get_by_role("link", name="编辑").click()
    picker = page.locator(".map-picker")
    wait_count(page, ".map-picker .leaflet-marker-icon", 1)
    screenshots(page, "station-form")
    width, height = picker.evaluate("el => [el.clientWidth, el.clientHeight]")
    old = station_row(live, "YZ-GL-001")
    x, y = world_pixel(old.lat, old.lng, 16)
    picker.click(position={"x": width / 2 + 120, "y": height / 2 - 80})
    want_lat, want_lng = from_world_pixel(x + 120, y - 80, 16)
    lat, lng = float(page.get_by_label("纬度（GCJ-02）").input_value()), float(
        page.get_by_label("经度（GCJ-02）").input_value())
    assert abs(lat - want_lat) < 3e-5 and abs(lng - want_lng) < 3e-5  # within a few metres of the click
    assert abs(lat - old.lat) > 5e-4 and abs(lng - old.lng) > 1e-3  # and well away from where it was
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector(".flash-success")
    assert "已保存驿站“文昌阁驿站”" in flash_texts(page)
    moved = station_row(live, "YZ-GL-001")
    assert (round(moved.lat, 6), round(moved.lng, 6)) == (lat, lng)
    near = api.get("/api/v1/stations/nearby", query_string={"lat": lat, "lng": lng, "radius_m": 50}).get_json()
    assert [s["name"] for s in near["items"]] == ["文昌阁驿站"]  # the nearby search moved it at once


def centre(box: dict, anchor_y: float = 0.5) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] * anchor_y


def test_typing_coordinates_moves_the_marker_and_without_tiles_the_map_still_shows(page, live):
    clock.freeze(clock.local(2026, 3, 10, 5, 40))
    root = make_org(live, "扬州市总工会")
    api = live.test_client()
    token = api_token(live, "breakfast_manager", root)
    assert api.post("/api/v1/admin/breakfast/points", headers={"Authorization": f"Bearer {token}"}, json={
        "name": "文昌中路爱心早餐点", "address": "扬州市广陵区文昌中路 118 号", "lat": 32.39452, "lng": 119.43631,
        "serving_start": "05:30", "serving_end": "08:30", "daily_quota": 320}).status_code == 201
    tiles, live.config["MAP_TILE_URL"] = live.config["MAP_TILE_URL"], ""
    try:
        sign_in(page, make_clerk(live, "breakfast_manager", root))
        page.goto("/console/breakfast/points/new")
        wait_count(page, ".map-picker path", 1)  # the existing point, for orientation
        picker = page.locator(".map-picker")
        assert picker.locator(".leaflet-marker-icon").count() == 0  # nothing placed yet
        assert page.locator(".map-note").inner_text().startswith("地图底图未配置")
        assert page.locator(".leaflet-tile").count() == 0 and picker.locator(".leaflet-control-scale").is_visible()

        # typed where the existing point is, the marker's tip stands on it
        page.get_by_label("纬度（GCJ-02）").fill("32.39452")
        page.get_by_label("经度（GCJ-02）").fill("119.43631")
        wait_count(page, ".map-picker .leaflet-marker-icon", 1)
        dot = centre(picker.locator("path").bounding_box())
        tip = centre(picker.locator(".leaflet-marker-icon").bounding_box(), anchor_y=1.0)
        assert abs(tip[0] - dot[0]) <= 2 and abs(tip[1] - dot[1]) <= 2
        # 0.001° further north, it stands that many pixels above it (zoom 15: one point fitted)
        page.get_by_label("纬度（GCJ-02）").fill("32.39552")
        north = world_pixel(32.39452, 119.43631, 15)[1] - world_pixel(32.39552, 119.43631, 15)[1]
        dot = centre(picker.locator("path").bounding_box())
        tip = centre(picker.locator(".leaflet-marker-icon").bounding_box(), anchor_y=1.0)
        assert abs(tip[0] - dot[0]) <= 2 and abs(dot[1] - tip[1] - north) <= 2, (north, dot, tip)
        screenshots(page, "breakfast-point-form-without-tiles")

        page.get_by_label("名称").fill("文昌中路北爱心早餐点")
        page.get_by_label("地址").fill("扬州市广陵区文昌中路 200 号")
        page.get_by_label("每日份数").fill("200")
        page.get_by_role("button", name="保存").click()
        page.wait_for_selector(".flash-success")
        wait_count(page, ".map-list path.leaflet-interactive", 2)
        screenshots(page, "breakfast-points-without-tiles")
    finally:
        live.config["MAP_TILE_URL"] = tiles
    point = api.get("/api/v1/admin/breakfast/points", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert {(p["name"], p["lat"]) for p in point["items"]} == {("文昌中路爱心早餐点", 32.39452),
                                                                ("文昌中路北爱心早餐点", 32.39552)}
