"""Roles decide the menus and the pages; the annual figures and the audit log are for admins."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from models.user import STAFF_ROLES
from tests.console.conftest import Browser, make_clerk, signed_in
from tests.enrollment import apply
from tests.helpers import login_worker

# Every page (GET) and the role (or roles) that may open it (admin may open all).
PAGES = {
    "/console/": None,
    "/console/me": None,
    "/console/enrollment/": "enrollment_reviewer",
    "/console/enrollment/members.xlsx": "enrollment_reviewer",
    "/console/stations/": "station_manager",
    "/console/stations/new": "station_manager",
    "/console/stations/import": "station_manager",
    "/console/stations/import-template.xlsx": "station_manager",
    "/console/stations/reports": "station_manager",
    "/console/legal-aid/": "legal_aid_staff",
    "/console/legal-aid/providers": "legal_aid_staff",
    "/console/legal-aid/schedule": "legal_aid_staff",
    "/console/breakfast/": "breakfast_manager",
    "/console/breakfast/points/new": "breakfast_manager",
    "/console/breakfast/roster": "breakfast_manager",
    "/console/breakfast/roster/import-template.xlsx": "breakfast_manager",
    "/console/breakfast/report": "breakfast_manager",
    "/console/breakfast/report.xlsx": "breakfast_manager",
    "/console/arrears/": "rights_staff",
    "/console/arrears/cases": "rights_staff",
    "/console/arrears/cases.xlsx": "rights_staff",
    "/console/arrears/collective": "rights_staff",
    "/console/imports/": ("station_manager", "breakfast_manager"),
    "/console/annual": "admin",
    "/console/annual.xlsx": "admin",
    "/console/annual/report.docx": "admin",
    "/console/annual/report-template.docx": "admin",
    "/console/audit-log": "admin",
}
MENU = {"入会审核": "enrollment_reviewer", "驿站管理": "station_manager", "法律援助": "legal_aid_staff",
        "爱心早餐": "breakfast_manager", "导入记录": ("station_manager", "breakfast_manager"), "年度统计": "admin",
        "操作日志": "admin", "欠薪报工": "rights_staff"}


def _may(role: str, needed) -> bool:
    return needed is None or role == "admin" or role in ((needed,) if isinstance(needed, str) else needed)


def test_every_console_page_is_in_this_table(app):
    listed = set(PAGES)
    pages = {rule.rule for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/console/") and "GET" in rule.methods and "<" not in rule.rule}
    assert pages - {"/console/login"} == listed


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_each_role_sees_its_menus_and_pages_and_gets_403_elsewhere(app, client, city, role):
    b = signed_in(app, client, role, city["root"])
    menu = re.search(r'<nav class="menu.*?</nav>', b.text("/console/"), re.S).group(0)
    for label, needed in MENU.items():
        assert (label in menu) == _may(role, needed), (role, label)
    for path, needed in PAGES.items():
        status = b.get(path).status_code
        expected = 200 if _may(role, needed) else 403
        assert status == expected, (role, path, status)


def test_a_station_manager_gets_the_403_page_on_the_enrollment_queue(app, client, city):
    b = signed_in(app, client, "station_manager", city["root"])
    resp = b.get("/console/enrollment/")
    assert resp.status_code == 403
    page = resp.get_data(as_text=True)
    assert "没有权限" in page and resp.mimetype == "text/html"
    assert b.post("/console/enrollment/1/approve").status_code == 403


def test_unknown_console_pages_are_the_404_page(app, client, city):
    b = signed_in(app, client, "admin")
    resp = b.get("/console/no-such-page")
    assert resp.status_code == 404 and "页面不存在" in resp.get_data(as_text=True)
    assert Browser(app.test_client()).get("/console/no-such-page").status_code == 302  # sign in first


def test_annual_figures_and_their_excel(app, client, city):
    worker = login_worker(client, "alice")
    assert apply(client, worker, city["district"]).status_code == 201
    admin = signed_in(app, client, "admin", city["root"])
    page = admin.text("/console/annual?year=2026")
    assert "2026 年度工作报告数据" in page
    assert re.search(r"<td>入会申请数</td><td class=\"num\">1</td>", page)
    assert "驿站总数（年末）" in page and "受益环卫工人数" in page and "咨询（欠薪）" in page
    resp = admin.get("/console/annual.xlsx?year=2026")
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.data)).active
    assert ("入会", "入会申请数", 1) in list(sheet.iter_rows(values_only=True))
    resp = admin.get("/console/annual?year=1999")
    assert resp.status_code == 422 and "年份" in resp.get_data(as_text=True)


def test_the_audit_log_shows_console_actions_with_their_actor(app, client, city):
    worker = login_worker(client, "alice")
    application = apply(client, worker, city["district"]).get_json()
    name = make_clerk(app, "admin", city["root"], username="zhang_admin")
    b = Browser(client)
    b.login(name)
    b.post(f"/console/enrollment/{application['id']}/approve")
    page = b.text("/console/audit-log")
    row = '<td class="audit-action" data-label="操作">批准入会申请</td>'
    assert row in page and "zhang_admin" in page
    assert row not in b.text("/console/audit-log?actor=someone_else")
