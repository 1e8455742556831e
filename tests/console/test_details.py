"""Console details a clerk notices: the name and role said once, amenities in Chinese, one
highlighted tab, a breakfast point 供应中 only while it serves; and, in Chromium, nothing
broken one character per line, a form error at its own field and a tab bar usable on a phone."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from service.common import clock
from tests.breakfast.helpers import add_to_roster, create_point, scene_of
from tests.console.conftest import PASSWORD, api_token, make_clerk, signed_in
from tests.helpers import bearer, bind_phone, error_code, login_worker, make_org
from tests.stations.support import create as create_station

_MENU = re.compile(r'<nav class="menu[^>]*>(.*?)</nav>', re.S)
HAS_ERROR = re.compile(r'<label class="field has-error">\s*<span>([^<]+?)\s*(?:<|</span>)')


def active_tabs(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" class="active"[^>]*>([^<]+)</a>', _MENU.search(html).group(1))


def test_the_signed_in_name_and_role_are_each_said_once(app, client, city):
    b = signed_in(app, client, "enrollment_reviewer", city["root"])
    page = b.text("/console/")
    who = re.search(r'<div class="who">(.*?)</form>', page, re.S).group(1)
    assert "入会审核员" in who  # a clerk named after their account shows the role next to the name
    b.post("/console/logout")
    make_clerk(app, "enrollment_reviewer", city["root"], username="reviewer2", display_name="入会审核员")
    assert b.login("reviewer2").status_code == 302
    who = re.search(r'<div class="who">(.*?)</form>', b.text("/console/"), re.S).group(1)
    assert who.count("入会审核员") == 1  # not "入会审核员 入会审核员"


def test_amenities_read_in_chinese(app, client, city):
    token = api_token(app, "station_manager", city["root"])
    create_station(client, token, "YZ-GL-001", amenities=["water", "wifi"])
    manager = signed_in(app, client, "station_manager", city["root"])
    for path in ("/console/stations/", "/console/stations/new"):
        page = manager.text(path)
        assert "无线网络" in page and not re.search(r">\s*wifi\s*<", page), path


def test_only_the_current_tab_is_highlighted(app, client, city):
    admin = signed_in(app, client, "admin", city["root"])
    assert active_tabs(admin.text("/console/annual")) == ["年度统计"]
    assert active_tabs(admin.text("/console/audit-log")) == ["操作日志"]
    assert active_tabs(admin.text("/console/legal-aid/schedule")) == ["法律援助"]  # a section's other pages
    assert active_tabs(admin.text("/console/")) == ["工作台"]


def test_a_breakfast_point_is_serving_only_inside_its_window(app, client, city):
    staff = api_token(app, "breakfast_manager", city["root"])
    point = create_point(client, staff)  # 05:30–08:30
    add_to_roster(client, staff, "张三", "13952710001")
    worker = login_worker(client, "zhangsan")
    bind_phone(client, worker, "13952710001")
    assert client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(worker)).status_code == 200
    scene = scene_of(client, staff, point["id"])
    manager = signed_in(app, client, "breakfast_manager", city["root"])

    clock.freeze(clock.local(2026, 3, 10, 4, 50))
    refused = client.post("/api/v1/breakfast/checkins", json={"scene": scene}, headers=bearer(worker))
    assert refused.status_code == 409 and error_code(refused) == "outside_serving_window"
    for path in ("/console/", "/console/breakfast/"):
        page = manager.text(path)
        assert "非供应时间" in page and "供应中" not in page, path

    clock.freeze(clock.local(2026, 3, 10, 6, 0))
    assert client.post("/api/v1/breakfast/checkins", json={"scene": scene}, headers=bearer(worker)).status_code == 201
    for path in ("/console/", "/console/breakfast/"):
        page = manager.text(path)
        assert "供应中" in page and "非供应时间" not in page, path

    client.patch(f"/api/v1/admin/breakfast/points/{point['id']}", json={"active": False}, headers=bearer(staff))
    assert "暂停" in manager.text("/console/breakfast/")


def test_a_bad_range_in_the_station_form_is_reported_against_that_field(app, client, city):
    manager = signed_in(app, client, "station_manager", city["root"])
    form = {"code": "YZ-GL-001", "name": "文昌阁驿站", "address": "扬州市广陵区文昌中路 1 号", "lat": "32.394",
            "lng": "119.413", "amenities": ["water"], "hours_mode": "daily", "hours_daily": "7点到21点",
            "organization_id": ""}
    resp = manager.post("/console/stations/new", form)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "每天：时间段“7点到21点”格式不正确" in page and "周一：" not in page
    assert re.findall(HAS_ERROR, page) == ["每天"]
    resp = manager.post("/console/stations/new", form | {"hours_mode": "weekly", "hours_daily": "",
                                                          "hours_tue": "08:00-12:00，14点-18点", "lat": "120"})
    page = resp.get_data(as_text=True)
    assert re.findall(HAS_ERROR, page) == ["纬度（GCJ-02）", "周二"]
    assert "周二：时间段“14点-18点”格式不正确" in page  # every problem at once, each at its field


# --- in Chromium ---------------------------------------------------------------------------------

LINES = """e => { const r = document.createRange(); r.selectNodeContents(e);
                  return new Set(Array.from(r.getClientRects(), x => Math.round(x.top))).size; }"""
RED = "rgb(179, 38, 30)"


def sign_in(page, username):
    page.goto("/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/")


@pytest.mark.browser
def test_codes_and_actions_stay_on_one_line_on_a_phone(page, live):
    root = make_org(live, "扬州市总工会")
    api = live.test_client()
    stations = api_token(live, "station_manager", root)
    create_station(api, stations, "YZ-BY-001", name="宝应安宜户外劳动者驿站（宝应县安宜镇叶挺路与苏中路交叉口东南角）",
                   address="扬州市宝应县安宜镇叶挺路与苏中路交叉口东南角，公交站台北侧二十米",
                   amenities=["water", "charging", "toilet", "rest", "wifi", "umbrella"])
    legal = api_token(live, "legal_aid_staff", root)
    provider = api.post("/api/v1/admin/legal-aid/providers", headers=bearer(legal), json={
        "name": "广陵区职工法律援助志愿服务站", "kind": "volunteer_station", "organization_id": root,
        "address": "扬州市广陵区示例路 1 号"}).get_json()["id"]
    today = clock.today_local()
    resp = api.post("/api/v1/admin/legal-aid/slots", headers=bearer(legal), json={
        "provider_id": provider, "weekdays": [1, 2, 3, 4, 5, 6, 7], "start": "09:00", "end": "11:30", "capacity": 5,
        "mode": "offline", "location": "扬州市广陵区示例路 1 号（广陵区总工会一楼）", "from": today.isoformat(),
        "until": (today + dt.timedelta(days=6)).isoformat()})
    assert resp.status_code == 201, resp.get_json()
    page.set_viewport_size({"width": 390, "height": 844})

    sign_in(page, make_clerk(live, ["station_manager", "legal_aid_staff"], root))
    page.goto("/console/stations/")
    row = page.locator("tbody tr", has_text="YZ-BY-001")
    assert row.locator("td.code").evaluate(LINES) == 1
    assert row.get_by_role("link", name="编辑").evaluate(LINES) == 1
    page.goto("/console/legal-aid/schedule")
    delete = page.get_by_role("button", name="删除").first
    assert delete.evaluate(LINES) == 1
    box = delete.bounding_box()
    assert box["width"] > box["height"]  # a button, not a column of characters


@pytest.mark.browser
def test_the_tab_bar_is_usable_at_390_px(page, live):
    root = make_org(live, "扬州市总工会")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, make_clerk(live, "admin", root))
    tabs = page.locator("nav.menu a")
    assert tabs.count() == 9  # an admin's whole menu
    for i in range(tabs.count()):
        box = tabs.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, tabs.nth(i).inner_text()  # all in sight
    page.get_by_role("link", name="操作日志").click()
    page.wait_for_url("**/console/audit-log")
    assert page.locator("nav.menu a.active").all_inner_texts() == ["操作日志"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
def test_only_the_mistyped_hours_field_turns_red(page, live):
    root = make_org(live, "扬州市总工会")
    sign_in(page, make_clerk(live, "station_manager", root))
    page.goto("/console/stations/new")
    for label, value in (("编码", "YZ-GL-001"), ("名称", "文昌阁驿站"), ("地址", "扬州市广陵区文昌中路 1 号"),
                         ("纬度（GCJ-02）", "32.394"), ("经度（GCJ-02）", "119.413")):
        page.get_by_label(label).fill(value)
    page.get_by_label("每天相同").check()
    page.locator("input[name=hours_daily]").fill("7点到21点")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector(".flash-error")
    hours = page.locator("fieldset", has_text="开放时间").locator("input[type=text]")
    red = [hours.nth(i).get_attribute("name") for i in range(hours.count())
           if hours.nth(i).evaluate("e => getComputedStyle(e).borderTopColor") == RED]
    assert red == ["hours_daily"]
    assert "7点到21点" in page.locator("label.field.has-error small.error").inner_text()
