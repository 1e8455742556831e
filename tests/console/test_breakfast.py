"""Breakfast at the console: points and today's count, the QR poster, the roster
import, the monthly report with its chart, Excel and ingredient estimate."""
from __future__ import annotations

import re

import pytest

from service.common import clock
from tests.breakfast.helpers import PEAK, POINT, scene_of
from tests.console.conftest import api_token, flashes, signed_in, upload_and_confirm
from tests.helpers import bearer, bind_phone, login_worker

BASE = "/console/breakfast"
FORM = {k: str(v) for k, v in POINT.items()} | {"geofence_m": "", "active": "true", "organization_id": ""}


@pytest.fixture
def manager(app, client, city):
    clock.freeze(PEAK)
    return signed_in(app, client, "breakfast_manager", city["root"])


def point_id(app, name=POINT["name"]):
    from sqlalchemy import select

    from models import db
    from models.breakfast import BreakfastPoint
    with app.app_context():
        return db.session.scalar(select(BreakfastPoint.id).where(BreakfastPoint.name == name))


def roster_upload(manager, content: bytes):
    return upload_and_confirm(manager, f"{BASE}/roster", content, "roster.csv")


def test_points_are_created_edited_and_checked(app, client, city, manager):
    resp = manager.post(f"{BASE}/points/new", dict(FORM, serving_end="05:00"))
    assert resp.status_code == 422 and "结束时间应晚于开始时间" in resp.get_data(as_text=True)
    resp = manager.post(f"{BASE}/points/new", FORM)
    assert resp.status_code == 302
    page = manager.text(resp.headers["Location"])
    assert f"已新建早餐点“{POINT['name']}”" in flashes(page) and "0 / 320" in page
    pid = point_id(app)
    assert 'value="05:30"' in manager.text(f"{BASE}/points/{pid}")
    resp = manager.post(f"{BASE}/points/{pid}", dict(FORM, daily_quota="200", geofence_m="300"))
    assert "0 / 200" in manager.text(resp.headers["Location"])
    token = api_token(app, "breakfast_manager", city["root"])
    assert client.get(f"/api/v1/admin/breakfast/points/{pid}", headers=bearer(token)).get_json()["geofence_m"] == 300


def test_the_printable_poster(app, client, city, manager):
    manager.post(f"{BASE}/points/new", FORM)
    pid = point_id(app)
    page = manager.text(f"{BASE}/points/{pid}/poster")
    assert f'src="/console/breakfast/points/{pid}/poster.svg?v=1"' in page and "打印海报" in page
    svg = manager.get(f"{BASE}/points/{pid}/poster.svg")
    assert svg.mimetype == "image/svg+xml" and POINT["name"] in svg.get_data(as_text=True)
    png = manager.get(f"{BASE}/points/{pid}/qr.png")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    token = api_token(app, "breakfast_manager", city["root"])
    old_scene = scene_of(client, token, pid)
    resp = manager.post(f"{BASE}/points/{pid}/qr/rotate")
    assert "第 2 版二维码" in manager.text(resp.headers["Location"])
    assert scene_of(client, token, pid) != old_scene


def test_roster_import_shows_each_row_and_entries_can_be_deactivated(app, client, city, manager):
    resp = roster_upload(manager, "姓名,手机号,单位\n张三,13952710001,广陵环卫所\n李四,123,广陵环卫所\n".encode())
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert '<strong class="num-created">1</strong>' in page and '<strong class="num-errors">1</strong>' in page
    assert "<td>3</td>" in page and "139****0001" in page and "13952710001" not in page
    resp = roster_upload(manager, "姓名,单位\n张三,广陵环卫所\n".encode())
    assert resp.status_code == 422 and "缺少必需的列" in resp.get_data(as_text=True)

    from sqlalchemy import select

    from models import db
    from models.breakfast import RosterEntry
    with app.app_context():
        entry_id = db.session.scalar(select(RosterEntry.id))
    resp = manager.post(f"{BASE}/roster/{entry_id}", {"active": "false", "back": f"{BASE}/roster"})
    page = manager.text(resp.headers["Location"])
    assert "名册记录已更新" in flashes(page) and "已停用" in page


def test_todays_count_the_monthly_report_and_the_ingredient_estimate(app, client, city, manager):
    manager.post(f"{BASE}/points/new", FORM)
    pid = point_id(app)
    roster_upload(manager, "姓名,手机号,单位\n张三,13952710001,广陵环卫所\n".encode())
    worker = login_worker(client, "zhangsan")
    bind_phone(client, worker, "13952710001")
    assert client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(worker)).status_code == 200
    scene = scene_of(client, api_token(app, "breakfast_manager", city["root"]), pid)
    resp = client.post("/api/v1/breakfast/checkins", json={"scene": scene}, headers=bearer(worker))
    assert resp.status_code == 201, resp.get_json()

    dashboard = manager.text("/console/")
    assert "今日早餐" in dashboard and "1 / 320" in dashboard
    page = manager.text(f"{BASE}/report?month=2026-03")
    assert '<div class="stat" id="total-servings">1</div>' in page
    assert "<title>10 日：1 份</title>" in page  # the chart's bar for 10 March
    assert "2026-04 食材预估" in page and "张*" in page
    xlsx = manager.get(f"{BASE}/report.xlsx?month=2026-03")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    page = manager.text(f"{BASE}/report?month=2026-13")
    assert "月份格式应为 YYYY-MM" in page and "2026-03 早餐统计" in page


def test_a_roster_search_by_phone_is_posted_and_never_put_in_a_url(app, client, city, manager):
    roster_upload(manager, "姓名,手机号,单位\n张三,13952710001,广陵环卫所\n李四,13952710002,广陵环卫所\n".encode())
    resp = manager.post(f"{BASE}/roster/search", {"q": "13952710002"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "李四" in page and "张三" not in page
    assert "13952710002" not in re.sub(r'name="q" value="13952710002"', "", page)  # only in the search box
    assert not [u for u in re.findall(r'(?:href|action)="([^"]*)"', page) if "0002" in u]
    page = manager.text(f"{BASE}/roster?q=13952710002")
    assert "张三" in page and "李四" in page and any("网址" in m for m in flashes(page))


def test_a_point_outside_china_is_saved_once_the_clerk_confirms_it(app, client, city, manager):
    abroad = dict(FORM, lat="35.6812", lng="139.7671")
    resp = manager.post(f"{BASE}/points/new", abroad)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "不在中国境内" in flashes(page)[0] and 'name="confirm_outside_area"' in page
    assert point_id(app) is None
    resp = manager.post(f"{BASE}/points/new", dict(abroad, confirm_outside_area="1"))
    assert resp.status_code == 302, flashes(resp.get_data(as_text=True))
    assert point_id(app) is not None
    assert 'name="confirm_outside_area"' not in manager.text(f"{BASE}/points/{point_id(app)}")
