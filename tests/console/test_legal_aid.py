"""Legal aid at the console: providers, weekly rules and slots, the day's bookings."""
from __future__ import annotations

import pytest

from service.common import clock
from tests.console.conftest import api_token, flashes, signed_in
from tests.helpers import bearer, bind_phone, login_worker
from tests.legal_aid.helpers import at, book

BASE = "/console/legal-aid"


@pytest.fixture
def clerk(app, client, city):
    return signed_in(app, client, "legal_aid_staff", city["root"])


def add_lawyer(clerk, city, **fields):
    body = {"name": "王律师", "kind": "lawyer", "organization_id": city["district"], "firm": "江苏某某律师事务所",
            "phone": "0514-87000000", **fields}
    return clerk.post(f"{BASE}/providers", body)


def provider_id(app, name):
    from sqlalchemy import select

    from models import db
    from models.legal_aid import LegalAidProvider
    with app.app_context():
        return db.session.scalar(select(LegalAidProvider.id).where(LegalAidProvider.name == name))


def test_providers_are_added_checked_and_deactivated(app, client, city, clerk):
    resp = add_lawyer(clerk, city, firm="")
    assert resp.status_code == 422
    assert "律师事务所：律师须填写所在律师事务所" in flashes(resp.get_data(as_text=True))
    resp = add_lawyer(clerk, city)
    assert resp.status_code == 302
    page = clerk.text(resp.headers["Location"])
    assert "已新增“王律师”" in flashes(page) and "江苏某某律师事务所" in page
    pid = provider_id(app, "王律师")
    resp = clerk.post(f"{BASE}/providers/{pid}", {"name": "王大律师", "firm": "江苏某某律师事务所", "address": "",
                                                  "phone": "0514-87000000", "active": "false"})
    page = clerk.text(resp.headers["Location"])
    assert "王大律师" in page and "停用" in page


def test_weekly_rule_single_slot_and_cancelling_a_slot(app, client, city, clerk):
    add_lawyer(clerk, city)
    pid = provider_id(app, "王律师")
    resp = clerk.post(f"{BASE}/rules", {"provider_id": pid, "weekdays": ["1", "3"], "start": "14:00",
                                        "end": "15:00", "capacity": "2", "mode": "offline",
                                        "location": "市总工会法律服务窗口", "from": "2026-03-02",
                                        "until": "2026-03-15"})
    page = clerk.text(resp.headers["Location"])
    assert "已按周排班，生成 4 个时段" in flashes(page)
    assert "周一、周三" in page and "2026-03-02 14:00" in page
    resp = clerk.post(f"{BASE}/slots", {"provider_id": pid, "date": "2026-03-04", "start": "14:30",
                                        "end": "15:30", "capacity": "1", "mode": "offline", "location": "窗口"})
    assert "该时段与此服务提供方已有的时段重叠" in flashes(clerk.text(resp.headers["Location"]))
    resp = clerk.post(f"{BASE}/slots", {"provider_id": pid, "date": "2026-03-05", "start": "09:00",
                                        "end": "10:00", "capacity": "1", "mode": "online"})
    page = clerk.text(resp.headers["Location"])
    assert "已新增咨询时段" in flashes(page) and "2026-03-05 09:00" in page

    token = api_token(app, "legal_aid_staff", city["root"])
    slots = client.get(f"/api/v1/admin/legal-aid/slots?provider_id={pid}", headers=bearer(token)).get_json()
    first = slots["items"][0]
    worker = login_worker(client, "zhang")
    assert book(client, worker, first["id"]).status_code == 201
    resp = clerk.post(f"{BASE}/slots/{first['id']}/cancel", {"reason": "律师临时出庭"})
    assert "时段已取消，1 个预约已取消并通知职工" in flashes(clerk.text(resp.headers["Location"]))
    mine = client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(worker)).get_json()
    assert mine["items"][0]["status"] == "cancelled"


def test_the_days_bookings_are_completed_with_notes_or_marked_no_show(app, client, city, clerk):
    add_lawyer(clerk, city)
    pid = provider_id(app, "王律师")
    for start in ("14:00", "15:00"):
        clerk.post(f"{BASE}/slots", {"provider_id": pid, "date": "2026-03-02", "start": start,
                                     "end": start.replace(":00", ":50"), "capacity": "2", "mode": "offline",
                                     "location": "广陵区法律服务室"})
    token = api_token(app, "legal_aid_staff", city["root"])
    slots = client.get(f"/api/v1/admin/legal-aid/slots?provider_id={pid}", headers=bearer(token)).get_json()
    first, second = (s["id"] for s in slots["items"])
    li = login_worker(client, "li")
    bind_phone(client, li, "13800138000")
    one = book(client, li, first, description="老板拖欠三个月工资").get_json()
    two = book(client, login_worker(client, "wang"), second, topic="work_injury",
               description="送餐途中摔伤", contact_phone="13912345678").get_json()

    dashboard = clerk.text("/console/")
    assert "近 7 天待咨询" in dashboard and "其中今天 2 个" in dashboard
    assert "13800138000" not in dashboard  # the dashboard's card names no one
    page = clerk.text(f"{BASE}/")
    assert "老板拖欠三个月工资" in page and "送餐途中摔伤" in page
    # whom to call: the booking's contact phone, else the phone bound in the mini-program, as tel: links
    assert '<a href="tel:13800138000">13800138000</a>' in page
    assert '<a href="tel:13912345678">13912345678</a>' in page
    admin = api_token(app, "admin", city["root"])
    logged = client.get("/api/v1/admin/audit-log", query_string={"action": "legal_aid.booking.list"},
                        headers=bearer(admin)).get_json()["items"]
    assert [(e["details"]["workers"], e["details"]["bookings"]) for e in logged] == [(2, 2)]

    assert "咨询开始（03-02 14:00）后可登记完成或未到场" in page and "咨询开始（03-02 15:00）后" in page
    assert "登记完成" not in page.replace("可登记完成", "")  # no forms before the start
    resp = clerk.post(f"{BASE}/bookings/{two['id']}/no-show", {"back": f"{BASE}/"})  # a page left open
    assert "咨询尚未开始，不能登记为未到场" in flashes(clerk.text(resp.headers["Location"]))
    resp = clerk.post(f"{BASE}/bookings/{one['id']}/complete", {"outcome": "advised", "back": f"{BASE}/"})
    assert "咨询尚未开始，不能登记为已完成" in flashes(clerk.text(resp.headers["Location"]))

    clock.freeze(at(2, 15, 0))
    resp = clerk.post(f"{BASE}/bookings/{one['id']}/complete",
                      {"outcome": "advised", "notes": "建议先向劳动监察大队投诉", "back": f"{BASE}/"})
    assert "已登记咨询完成" in flashes(clerk.text(resp.headers["Location"]))
    resp = clerk.post(f"{BASE}/bookings/{two['id']}/no-show", {"back": f"{BASE}/"})
    page = clerk.text(resp.headers["Location"])
    assert "已登记为未到场" in flashes(page)
    assert "建议先向劳动监察大队投诉" in page and "已完成" in page and "未到场" in page
    resp = clerk.post(f"{BASE}/bookings/{one['id']}/complete", {"outcome": "nonsense", "back": f"{BASE}/"})
    assert any("处理结果" in m for m in flashes(clerk.text(resp.headers["Location"])))
    sheet = clerk.get(f"{BASE}/providers/{pid}/day-sheet.xlsx?date=2026-03-02")
    assert sheet.status_code == 200 and sheet.mimetype.endswith("spreadsheetml.sheet")


@pytest.mark.parametrize("role", ["enrollment_reviewer", "station_manager", "breakfast_manager"])
def test_other_roles_never_see_consultation_notes_or_whom_to_call(app, client, city, role):
    token = api_token(app, "legal_aid_staff", city["root"])
    provider = client.post("/api/v1/admin/legal-aid/providers", headers=bearer(token), json={
        "name": "王律师", "kind": "lawyer", "organization_id": city["root"], "firm": "江苏某某律师事务所"}).get_json()
    slot = client.post("/api/v1/admin/legal-aid/slots", headers=bearer(token), json={
        "provider_id": provider["id"], "starts_at": "2026-03-02T15:00:00+08:00", "ends_at": "2026-03-02T16:00:00+08:00",
        "capacity": 1, "mode": "online"}).get_json()["slot"]
    assert book(client, login_worker(client, "li"), slot["id"], contact_phone="13912345678").status_code == 201
    other = signed_in(app, client, role, city["root"])
    for path in (f"{BASE}/", f"{BASE}/providers/{provider['id']}/day-sheet.xlsx?date=2026-03-02"):
        resp = other.get(path)
        assert resp.status_code == 403 and "13912345678" not in resp.get_data(as_text=True), path
    assert "法律援助" not in other.text("/console/")
