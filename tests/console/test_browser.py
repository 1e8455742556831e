"""The console's main journeys in a real browser (headless Chromium) against a live server, each
at a fixed time: sign in, approve an application or a batch of them, import a roster (preview,
confirm, undo) or stations, print a QR poster, read the annual figures and the breakfast report,
keep stations on the map, set up a lawyer's week, record a consultation, read the audit log, page
through a long list.  Each new or changed page is kept as a screenshot at 1280 and 390 pixels under
tests/artifacts/."""
from __future__ import annotations

import math
import re

import pytest

from service.common import clock
from tests.breakfast.helpers import check_in, create_point, eligible_worker, roster_csv, scene_of, upload
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


def test_import_a_roster_preview_it_and_undo_it(page, live):
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "breakfast_manager", root))
    page.get_by_role("link", name="爱心早餐").click()
    page.get_by_role("link", name="名册").click()
    # as a clerk's Excel saves it: a title row, a blank row, then the header; GBK
    content = ("广陵区环卫工人爱心早餐名册（2026年3月）,,\n,,\n姓名,手机号,单位\n"
               "张三,13952710001,广陵环卫所\n李四,13952710002,广陵环卫所\n王五,12345,广陵环卫所\n")
    page.locator("input[type=file]").set_input_files(
        {"name": "名册.csv", "mimeType": "text/csv", "buffer": content.encode("gbk")})
    page.get_by_role("button", name="上传并预览").click()
    preview = page.locator("#import-preview")
    preview.wait_for()
    assert preview.locator(".num-created").inner_text() == "2"
    assert preview.locator(".num-errors").inner_text() == "1"
    assert "名册为空" in page.content()  # nothing written yet
    page.get_by_role("button", name="确认导入").click()
    result = page.locator("#import-result")
    result.wait_for()
    assert result.locator(".num-created").inner_text() == "2"
    assert result.locator(".num-errors").inner_text() == "1"
    assert "6" in result.locator("tbody td").first.inner_text()  # the bad row's number in the sheet
    assert page.get_by_role("cell", name="139****0001").is_visible()
    assert "13952710001" not in page.content()

    page.locator("#import-record").get_by_role("link", name="导入记录").click()
    row = page.locator("tbody tr", has_text="名册.csv")
    page.once("dialog", lambda dialog: dialog.dismiss())  # a second thought: nothing happens
    row.get_by_role("button", name="撤销").click()
    assert row.get_by_role("button", name="撤销").is_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="撤销").click()
    page.wait_for_selector(".flash-success")
    assert "已撤销：删除新增的 2 条，恢复被更新的 0 条" in flash_texts(page)
    page.goto("/console/breakfast/roster")
    assert "名册为空" in page.content()


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


def test_import_stations_from_a_clerks_csv(page, live):
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "station_manager", root))
    page.get_by_role("link", name="驿站管理").click()
    page.get_by_role("link", name="批量导入").click()
    content = ("扬州市户外劳动者驿站一览表（2026 年 3 月）\r\n"
               "编码,名称,地址,纬度,经度,开放时间,设施\r\n"
               "YZ-GL-101,文昌阁驿站,扬州市广陵区文昌中路 1 号,32.394,119.413,24h,饮水、充电\r\n"
               ",,,,,,\r\n"
               "YZ-GL-102,东关街驿站,扬州市广陵区东关街 200 号,32.397,119.43,07:00-21:00,饮水、卫生间、休息\r\n"
               "YZ-GL-103,运河驿站,扬州市广陵区运河南路 8 号,北纬32度,119.44,24h,饮水\r\n")
    page.locator("input[type=file]").set_input_files(
        {"name": "驿站一览表.csv", "mimeType": "text/csv", "buffer": content.encode("gbk")})
    page.get_by_role("button", name="上传并预览").click()
    page.locator("#import-preview").wait_for()
    page.get_by_role("button", name="确认导入").click()
    result = page.locator("#import-result")
    result.wait_for()
    assert result.locator(".num-created").inner_text() == "2" and result.locator(".num-errors").inner_text() == "1"
    bad = result.locator("tbody tr")
    assert bad.count() == 1 and bad.locator("td").first.inner_text() == "6"  # the row as the clerk counts it
    assert "纬度" in bad.locator("td").nth(1).inner_text()
    screenshots(page, "stations-import")

    page.get_by_role("link", name="驿站列表").click()
    wait_count(page, ".map-list path.leaflet-interactive", 2)
    assert listed_codes(page) == ["YZ-GL-101", "YZ-GL-102"]
    assert "饮水、卫生间、休息" in page.locator("tr", has_text="YZ-GL-102").inner_text()


# --- legal aid --------------------------------------------------------------------------------

def legal_aid_city(live):
    """A federation, a lawyer of it and its legal-aid token, at 09:00 on Monday 2 March 2026."""
    clock.freeze(clock.local(2026, 3, 2, 9, 0))
    root = make_org(live, "扬州市总工会")
    token = api_token(live, "legal_aid_staff", root)
    resp = live.test_client().post("/api/v1/admin/legal-aid/providers", headers={"Authorization": f"Bearer {token}"},
                                   json={"name": "王律师", "kind": "lawyer", "organization_id": root,
                                         "firm": "江苏某某律师事务所", "phone": "0514-87000000"})
    assert resp.status_code == 201, resp.get_json()
    return root, token, resp.get_json()["id"]


def test_a_weekly_schedule(page, live):
    root, _token, _lawyer = legal_aid_city(live)
    sign_in(page, make_clerk(live, "legal_aid_staff", root))
    page.get_by_role("link", name="法律援助").click()
    page.get_by_role("link", name="排班与时段").click()
    form = page.locator("form[action$='/legal-aid/rules']")
    assert form.is_visible()  # open while there is no rule yet
    form.get_by_label("服务提供方").select_option(label="王律师")
    form.get_by_label("周一").check()
    form.get_by_label("周三").check()
    form.get_by_label("开始时间").fill("14:00")
    form.get_by_label("结束时间").fill("15:00")
    form.get_by_label("每个时段名额").fill("2")
    form.get_by_label("地点（线下）").fill("市总工会一楼法律服务窗口")
    form.get_by_label("起始日期").fill("2026-03-02")
    form.get_by_label("截止日期").fill("2026-03-15")
    form.get_by_role("button", name="生成时段").click()
    page.wait_for_selector(".flash")
    assert "已按周排班，生成 4 个时段" in flash_texts(page)
    rule = page.locator("tr", has_text="王律师").first
    assert "周一、周三" in rule.inner_text() and "14:00–15:00" in rule.inner_text()
    assert "2026-03-02 至 2026-03-15" in rule.inner_text()
    slots = page.locator("section", has_text="今后的咨询时段").locator("tbody tr")
    assert [r.split("\t")[0] for r in slots.all_inner_texts()] == [
        "2026-03-02 14:00–15:00", "2026-03-04 14:00–15:00", "2026-03-09 14:00–15:00", "2026-03-11 14:00–15:00"]
    screenshots(page, "legal-aid-schedule")

    # a worker books Wednesday's: the dashboard counts it although nothing is booked for today
    api = live.test_client()
    listed = api.get("/api/v1/legal-aid/slots", query_string={"date_from": "2026-03-04", "date_to": "2026-03-04"})
    wednesday = listed.get_json()["items"][0]["id"]
    resp = api.post("/api/v1/legal-aid/bookings", headers={"Authorization": f"Bearer {login_worker(api, 'zhang')}"},
                    json={"slot_id": wednesday, "topic": "work_injury", "description": "送餐途中摔伤"})
    assert resp.status_code == 201, resp.get_json()
    page.get_by_role("link", name="工作台").click()
    card = page.locator(".summary-legal-aid")
    card.wait_for()
    assert card.locator("h2").inner_text() == "近 7 天待咨询" and card.locator(".stat").inner_text() == "1"
    assert "其中今天 0 个" in card.inner_text() and "03-04 14:00 王律师 · 工伤" in card.inner_text()
    screenshots(page, "dashboard-legal-aid")


def test_a_past_consultation_marked_complete_and_read_in_the_audit_log(page, live):
    root, token, lawyer = legal_aid_city(live)
    api = live.test_client()
    resp = api.post("/api/v1/admin/legal-aid/slots", headers={"Authorization": f"Bearer {token}"}, json={
        "provider_id": lawyer, "starts_at": "2026-03-03T10:00:00+08:00", "ends_at": "2026-03-03T11:00:00+08:00",
        "capacity": 2, "mode": "offline", "location": "广陵区总工会法律服务室"})
    assert resp.status_code == 201, resp.get_json()
    slot = resp.get_json()["slot"]["id"]
    resp = api.post("/api/v1/legal-aid/bookings", headers={"Authorization": f"Bearer {login_worker(api, 'li')}"},
                    json={"slot_id": slot, "topic": "wage_arrears", "description": "老板拖欠三个月工资"})
    assert resp.status_code == 201, resp.get_json()
    booking = resp.get_json()["id"]
    clock.freeze(clock.local(2026, 3, 4, 9, 0))  # the lawyer reports the next morning but one

    sign_in(page, make_clerk(live, "legal_aid_staff", root))
    page.get_by_role("link", name="法律援助").click()
    assert page.get_by_label("日期起").input_value() == "2026-03-04"
    assert page.get_by_label("日期止").input_value() == "2026-03-10"
    assert page.locator(".booking").count() == 0
    page.get_by_label("日期起").fill("2026-03-03")
    page.get_by_role("button", name="筛选").click()
    card = page.locator(f"#booking-{booking}")
    card.wait_for()
    assert "老板拖欠三个月工资" in card.inner_text() and "已预约" in card.inner_text()
    card.get_by_label("处理结果").select_option(label="已解答")
    card.get_by_label("咨询记录").fill("建议先向劳动监察大队投诉，并保留考勤记录")
    card.get_by_role("button", name="登记完成").click()
    page.wait_for_selector(".flash-success")
    assert "已登记咨询完成" in flash_texts(page)
    card = page.locator(f"#booking-{booking}")
    assert "已完成" in card.locator(".badge").inner_text() and "建议先向劳动监察大队投诉" in card.inner_text()
    assert page.get_by_label("日期起").input_value() == "2026-03-03"  # back on the list as it was filtered
    screenshots(page, "legal-aid-bookings")

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/console/login")
    sign_in(page, make_clerk(live, "admin", root))
    page.get_by_role("link", name="操作日志").click()
    page.locator("select[name=action]").select_option(label="登记咨询完成")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**action=legal_aid.booking.complete*")
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert rows.locator(".audit-target").inner_text() == f"法律咨询预约 #{booking}"
    details = rows.locator(".audit-details").inner_text()
    assert "状态：已预约 → 已完成" in details and "处理结果：（空） → 已解答" in details
    assert "建议先向劳动监察大队投诉" not in page.content()
    page.locator("select[name=action]").select_option("")
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("tbody tr >> nth=2")
    screenshots(page, "audit-log")


def test_a_lawyer_sees_and_calls_the_workers_number(page, live):
    """The day's bookings show the worker's name and a number to call (the booking's contact
    phone, else the bound one) as a link the lawyer's phone dials."""
    root, token, lawyer = legal_aid_city(live)
    api = live.test_client()
    resp = api.post("/api/v1/admin/legal-aid/slots", headers={"Authorization": f"Bearer {token}"}, json={
        "provider_id": lawyer, "starts_at": "2026-03-05T10:00:00+08:00", "ends_at": "2026-03-05T11:00:00+08:00",
        "capacity": 2, "mode": "online", "location": "电话咨询"})
    assert resp.status_code == 201, resp.get_json()
    worker = login_worker(api, "wang")
    resp = api.post("/api/v1/legal-aid/bookings", headers={"Authorization": f"Bearer {worker}"},
                    json={"slot_id": resp.get_json()["slot"]["id"], "topic": "work_injury",
                          "description": "送餐途中摔伤，平台不认工伤", "contact_phone": "13952718888"})
    assert resp.status_code == 201, resp.get_json()
    booking = resp.get_json()["id"]

    sign_in(page, make_clerk(live, "legal_aid_staff", root))
    page.get_by_role("link", name="法律援助").click()
    card = page.locator(f"#booking-{booking}")
    card.wait_for()
    call = card.locator('a[href^="tel:"]')
    assert call.get_attribute("href") == "tel:13952718888" and "13952718888" in call.inner_text()
    screenshots(page, "legal-aid-contact")


# --- enrollment, breakfast, long lists ----------------------------------------------------------

def test_batch_review_with_select_all(page, live):
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    root = make_org(live, "扬州市总工会")
    district = make_org(live, "广陵区总工会", root)
    api = live.test_client()
    for n, (worker, name) in enumerate((("xiaoming", "王小明"), ("xiaohong", "李小红"), ("xiaogang", "张小刚")), 1):
        resp = apply(api, login_worker(api, worker), district, name=name,
                     id_number=make_id("19900101", "male", seq=n), phone=f"1391234560{n}")
        assert resp.status_code == 201, resp.get_json()
    sign_in(page, make_clerk(live, "enrollment_reviewer", root))
    page.get_by_role("link", name="入会审核").click()
    boxes = page.locator("input[name=ids]")
    assert boxes.count() == 3 and not any(b.is_checked() for b in boxes.all())
    page.get_by_label("全选").check()
    assert all(b.is_checked() for b in boxes.all())
    screenshots(page, "enrollment-queue")
    page.get_by_label("全选").uncheck()
    assert not any(b.is_checked() for b in boxes.all())
    page.get_by_label("全选").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="批量通过").click()
    page.wait_for_selector(".flash")
    assert "批量通过：成功 3 份，失败 0 份" in flash_texts(page)
    assert page.locator("input[name=ids]").count() == 0 and "没有符合条件的申请" in page.locator("tbody").inner_text()
    page.get_by_label("状态").select_option(label="已通过")
    page.get_by_role("button", name="筛选").click()
    page.locator("tbody tr").nth(2).wait_for()  # the filters go by POST: no ID number in a URL
    assert page.locator("tbody tr").count() == 3 and "已通过" in page.locator("tbody").inner_text()


def test_the_breakfast_report_opens_on_the_latest_month_with_data(page, live):
    root = make_org(live, "扬州市总工会")
    api = live.test_client()
    token = api_token(live, "breakfast_manager", root)
    clock.freeze(clock.local(2026, 1, 20, 6, 0))
    point = create_point(api, token)
    scene = scene_of(api, token, point["id"])
    for name in ("alice", "bob", "carol"):
        assert check_in(api, eligible_worker(api, token, name), scene).status_code == 201
    clock.freeze(clock.local(2026, 3, 5, 9, 0))

    sign_in(page, make_clerk(live, "breakfast_manager", root))
    page.get_by_role("link", name="爱心早餐").click()
    page.get_by_role("link", name="月度统计").click()
    assert page.locator("h1").inner_text() == "2026-01 早餐统计"
    assert page.locator("#total-servings").inner_text() == "3"
    note = page.locator("#latest-month-note").inner_text()
    assert note == "本月（2026-03）还没有就餐记录，显示最近有记录的 2026-01。"
    assert page.locator("svg.chart rect.bar title", has_text="20 日：3 份").count() == 1
    screenshots(page, "breakfast-report")
    page.locator("input[name=month]").fill("2026-03")
    page.get_by_role("button", name="查看").click()
    page.wait_for_url("**month=2026-03*")
    assert page.locator("h1").inner_text() == "2026-03 早餐统计" and page.locator("#latest-month-note").count() == 0
    assert page.locator("#total-servings").inner_text() == "0"


def test_jump_to_a_page_of_a_long_list(page, live):
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    root = make_org(live, "扬州市总工会")
    api = live.test_client()
    rows = [(f"职工{n:02d}", f"1395280{n:04d}", "广陵环卫所", "") for n in range(1, 46)]
    assert upload(api, api_token(live, "breakfast_manager", root), roster_csv(rows)).status_code == 200
    sign_in(page, make_clerk(live, "breakfast_manager", root))
    page.goto("/console/breakfast/roster?active=true")
    pager = page.locator(".pager")
    assert "共 45 条，第 1 / 3 页" in pager.inner_text()
    pager.get_by_label("页码").fill("3")
    pager.get_by_role("button", name="跳转").click()
    page.wait_for_url("**page=3*")
    assert "active=true" in page.url and "第 3 / 3 页" in page.locator(".pager").inner_text()
    assert page.locator("tbody tr").count() == 5
    screenshots(page, "roster-last-page")
    page.locator(".pager").get_by_role("link", name="1", exact=True).click()
    page.wait_for_url("**page=1*")
    assert page.locator(".pager .current").inner_text() == "1"
    page.goto("/console/breakfast/roster?active=true&page=99999")
    assert "第 3 / 3 页" in page.locator(".pager").inner_text()


# --- a staff member's own account --------------------------------------------------------------

def test_an_admin_links_their_wechat_with_the_code_the_console_shows(page, live):
    from tests.helpers import bearer

    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "admin", root, display_name="王主席"))
    page.locator("header .who-name").click()
    assert page.locator("h1").inner_text() == "我的账号"
    assert "未绑定" in page.locator(".wechat-binding").inner_text()
    page.get_by_role("button", name="获取绑定码").click()
    code = page.locator(".binding-code-digits").inner_text().strip()
    assert re.fullmatch(r"\d{6}", code)
    assert "在工会小程序「我的」中输入绑定码，09:40 前有效" in page.locator(".binding-code").inner_text()
    screenshots(page, "account-binding-code")

    api = live.test_client()  # the admin enters the code in the mini-program, signed in there as a worker
    resp = api.post("/api/v1/me/staff-binding", json={"code": code}, headers=bearer(login_worker(api, "chair")))
    assert resp.status_code == 200, resp.get_json()
    page.reload()
    assert "已绑定" in page.locator(".wechat-binding").inner_text()
    assert page.locator(".binding-code").count() == 0
    screenshots(page, "account-bound")


def test_a_station_placed_abroad_is_saved_once_the_clerk_ticks_the_confirmation(page, live):
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "station_manager", root))
    page.goto("/console/stations/new")
    page.get_by_label("编码").fill("YZ-JW-001")
    page.get_by_label("名称").fill("境外驿站")
    page.get_by_label("地址").fill("东京都千代田区")
    page.get_by_label("纬度（GCJ-02）").fill("35.6812")
    page.get_by_label("经度（GCJ-02）").fill("139.7671")
    page.get_by_role("button", name="保存").click()
    assert "不在中国境内" in " ".join(flash_texts(page))
    page.get_by_label(re.compile("坐标无误")).check()
    screenshots(page, "station-form-outside-area")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/console/stations/")
    assert "已新建驿站“境外驿站”" in flash_texts(page)
