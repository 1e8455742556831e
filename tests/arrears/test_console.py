"""Wage arrears at the console: the queue, a case with its timeline and photos, moves,
collective cases and the admins' banner."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from service.common import clock
from tests.arrears.helpers import NOW, World, png
from tests.console.conftest import flashes, signed_in

BASE = "/console/arrears"


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


@pytest.fixture
def clerk(app, world):
    return signed_in(app, app.test_client(), "rights_staff", world.district)


def test_a_report_is_accepted_and_its_case_moved_at_the_console(world, app, clerk):
    amy = world.worker("amy", "13800138001")
    report = world.submitted(amy)
    photo = png()
    evidence_id = world.upload(amy, report["id"], photo).get_json()["id"]

    page = clerk.text(f"{BASE}/")
    assert "扬州 宏达建筑（集团）有限公司" in page and "工程完工后老板一直拖欠三个月工资" in page
    assert "138****8001" in page and f'src="{BASE}/evidence/{evidence_id}"' in page
    resp = clerk.get(f"{BASE}/evidence/{evidence_id}")
    assert resp.status_code == 200 and resp.data == photo and resp.mimetype == "image/png"
    assert resp.headers["Cache-Control"] == "private, no-store"

    resp = clerk.post(f"{BASE}/reports/{report['id']}/accept")
    assert resp.status_code == 302
    case_id = world.mine(amy, report["id"])["case"]["id"]
    assert f"已受理，报工已并入案件 {case_id}" in flashes(clerk.text(resp.headers["Location"]))

    page = clerk.text(f"{BASE}/cases/{case_id}")
    assert "受理报工" in page and "立案" in page and f'src="{BASE}/evidence/{evidence_id}"' in page
    assert re.search(r'<option value="coordinating"[^>]*>协调中</option>', page)
    resp = clerk.post(f"{BASE}/cases/{case_id}/transition", {"to": "resolved", "amount_recovered": "100"})
    assert "案件当前为“已受理”，不能转为“已解决”" in flashes(clerk.text(resp.headers["Location"]))
    resp = clerk.post(f"{BASE}/cases/{case_id}/transition", {"to": "coordinating", "note": "已约谈负责人"})
    assert "案件已转为“协调中”，已通知相关职工" in flashes(clerk.text(resp.headers["Location"]))
    resp = clerk.post(f"{BASE}/cases/{case_id}/transition", {"to": "closed", "note": ""})
    assert "处理说明：结案时请填写处理说明" in flashes(clerk.text(resp.headers["Location"]))
    page = clerk.text(f"{BASE}/cases/{case_id}")
    assert "已约谈负责人" in page and "协调中" in page

    page = clerk.text(f"{BASE}/cases")
    assert f"{BASE}/cases/{case_id}" in page
    sheet = load_workbook(io.BytesIO(clerk.get(f"{BASE}/cases.xlsx").data)).active
    assert list(sheet.iter_rows(values_only=True))[1][4] == "协调中"


def test_a_report_is_declined_with_its_reason(world, app, clerk):
    amy = world.worker("amy")
    report = world.submitted(amy)
    resp = clerk.post(f"{BASE}/reports/{report['id']}/decline", {"reason": ""})
    assert "原因：必填" in flashes(clerk.text(resp.headers["Location"]))
    resp = clerk.post(f"{BASE}/reports/{report['id']}/decline", {"reason": "不属于本区管辖"})
    assert "已不予受理，并已告知职工" in flashes(clerk.text(resp.headers["Location"]))
    assert world.mine(amy, report["id"])["decline_reason"] == "不属于本区管辖"


def test_other_districts_staff_get_404_pages(world, app, clerk):
    amy = world.worker("amy")
    report = world.submitted(amy)
    evidence_id = world.upload(amy, report["id"], png()).get_json()["id"]
    case_id = world.accepted(report["id"])["case_id"]
    stranger = signed_in(app, app.test_client(), "rights_staff", world.other)
    assert stranger.get(f"{BASE}/cases/{case_id}").status_code == 404
    assert stranger.get(f"{BASE}/evidence/{evidence_id}").status_code == 404
    assert "扬州 宏达建筑" not in stranger.text(f"{BASE}/")
    assert stranger.post(f"{BASE}/reports/{report['id']}/accept").status_code == 404


def test_admins_see_a_banner_for_collective_arrears_until_one_acknowledges_it(world, app, clerk):
    for i, name in enumerate(("amy", "ben")):
        token = world.worker(name, f"1380013800{i}")
        world.accepted(world.submitted(token, workers_affected=5)["id"])
    admin = signed_in(app, app.test_client(), "admin", world.city)
    page = admin.text("/console/")
    assert "群体性欠薪提醒" in page and "扬州 宏达建筑（集团）有限公司" in page
    assert "报工涉及职工 <strong>10</strong> 人" in page
    assert "群体性欠薪提醒" not in clerk.text("/console/")  # rights staff see the case, not the banner
    assert "群体性欠薪案件 1 件" in clerk.text("/console/")
    page = clerk.text(f"{BASE}/collective")
    assert "扬州 宏达建筑（集团）有限公司" in page and "待确认的提醒" not in page

    alert_id = re.search(r'/console/arrears/alerts/(\d+)/acknowledge', admin.text("/console/")).group(1)
    assert clerk.post(f"{BASE}/alerts/{alert_id}/acknowledge").status_code == 403
    resp = admin.post(f"{BASE}/alerts/{alert_id}/acknowledge", {"back": "/console/"})
    assert "已确认知悉" in flashes(admin.text(resp.headers["Location"]))
    assert "群体性欠薪提醒" not in admin.text("/console/")
    assert "确认群体性欠薪提醒" in admin.text("/console/audit-log")
