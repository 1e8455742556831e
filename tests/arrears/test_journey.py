"""A worker's report from submission to a resolved collective case, as the worker,
the rights staff, the admin and WeChat each see it."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import AuditLog
from models.arrears import ArrearsAlert
from service.common import clock
from tests.arrears.helpers import NOW, World, png, query, send_messages
from tests.helpers import bearer, error_code, login_worker
from wechat import fake


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


def test_three_workers_one_employer_become_one_collective_case_followed_to_its_resolution(world, app, client,
                                                                                         redis_client):
    amy = world.worker("amy", "13800138001")
    ben = world.worker("ben", "13800138002")
    cai = world.worker("cai", "13800138003")

    first = world.submitted(amy, employer_name="扬州 宏达建筑（集团）有限公司", workers_affected=4)
    assert first["status"] == "submitted" and first["status_label"] == "待受理"
    assert first["work_address"] == "扬州市广陵区文昌东路 88 号工地"
    assert first["amount_owed"] == 12000.5 and first["case"] is None and first["can_withdraw"] is True
    photo = png()
    resp = world.upload(amy, first["id"], photo)
    assert resp.status_code == 201, resp.get_json()
    evidence_id = resp.get_json()["id"]
    assert resp.get_json()["mime_type"] == "image/png"

    second = world.submitted(ben, employer_name="扬州宏达建筑(集团)有限责任公司", workers_affected=3,
                             amount_owed="9000")
    third = world.submitted(cai, employer_name="扬州宏达建筑集团", workers_affected=3, amount_owed=8000)

    # the queue, oldest first
    queue = client.get("/api/v1/admin/arrears/reports?status=submitted", headers=bearer(world.staff)).get_json()
    assert [r["id"] for r in queue["items"]] == [first["id"], second["id"], third["id"]]
    assert queue["items"][0]["worker_phone"] == "138****8001"
    assert queue["items"][0]["description"] == "工程完工后老板一直拖欠三个月工资"

    accepted = world.accepted(first["id"])
    case_id = accepted["case_id"]
    assert accepted["status"] == "accepted" and accepted["case"]["status"] == "accepted"
    assert world.accepted(second["id"])["case_id"] == case_id
    case = client.get(f"/api/v1/admin/arrears/cases/{case_id}", headers=bearer(world.staff)).get_json()
    assert case["collective"] is False and case["workers"] == 7

    assert world.accepted(third["id"])["case_id"] == case_id
    case = client.get(f"/api/v1/admin/arrears/cases/{case_id}", headers=bearer(world.staff)).get_json()
    assert case["collective"] is True
    assert (case["reporters"], case["workers"], case["amount_owed"]) == (3, 10, 29000.5)
    assert [r["id"] for r in case["reports"]] == [first["id"], second["id"], third["id"]]
    assert case["reports"][0]["evidence"][0]["id"] == evidence_id
    assert [e["kind"] for e in case["timeline"]] == ["opened", "accepted", "accepted", "accepted", "collective"]
    assert case["next_statuses"] == ["coordinating", "closed"]
    # the alert for the organization's admins, raised once
    alerts = query(app, select(ArrearsAlert.case_id, ArrearsAlert.organization_id, ArrearsAlert.workers))
    assert alerts == [(case_id, world.district, 10)]

    clock.advance(days=1)
    world.moved(case_id, to="coordinating", note="已约谈项目负责人")
    clock.advance(days=5)
    moved = world.moved(case_id, to="referred", referred_to="labor_inspection")
    assert moved["referred_to_label"] == "劳动保障监察"
    clock.advance(days=10)
    resolved = world.moved(case_id, to="resolved", amount_recovered="29000.50", note="用人单位已足额支付")
    assert resolved["status"] == "resolved" and resolved["amount_recovered"] == 29000.5
    assert resolved["resolved_on"] == "2026-03-18" and resolved["next_statuses"] == []
    assert {r["status"] for r in resolved["reports"]} == {"closed"}

    # the worker follows each step
    mine = client.get("/api/v1/arrears/reports/mine", headers=bearer(amy)).get_json()
    assert mine["total"] == 1
    report = mine["items"][0]
    assert report["status"] == "closed" and report["status_label"] == "已办结"
    assert report["case"]["status"] == "resolved" and report["case"]["collective"] is True
    assert report["case"]["amount_recovered"] == 29000.5
    steps = [(e["kind"], e["to_status"], e["note"]) for e in report["timeline"]]
    assert steps == [("submitted", "submitted", None), ("accepted", "accepted", None),
                     ("transition", "coordinating", "已约谈项目负责人"), ("transition", "referred", None),
                     ("transition", "resolved", "用人单位已足额支付")]
    assert world.mine(amy, first["id"])["timeline"] == report["timeline"]

    # WeChat received each message once the sender ran
    result = send_messages(app)
    assert result.sent == 12
    sent = fake.sent_messages(redis_client)
    for openid in ("fake-amy", "fake-ben", "fake-cai"):
        theirs = [m for m in sent if m["touser"] == openid]
        assert [m["data"]["phrase2"]["value"] for m in theirs] == ["已受理", "协调中", "已移交", "已解决"]
        templates = app.config["NOTIFY_TEMPLATES"]
        assert {m["template_id"] for m in theirs} == {templates["arrears_progress"]["template_id"]}
    amy_sent = [m for m in sent if m["touser"] == "fake-amy"]
    assert amy_sent[0]["data"]["thing1"]["value"] == "扬州 宏达建筑（集团）有限公司"
    assert amy_sent[0]["page"] == f"pages/arrears/report?id={first['id']}"
    assert amy_sent[2]["data"]["thing3"]["value"] == "案件已移交劳动保障监察"
    assert amy_sent[3]["data"]["thing3"]["value"] == "用人单位已足额支付"

    # the photo, for the staff of the organization: decrypted, never cached
    resp = client.get(f"/api/v1/admin/arrears/evidence/{evidence_id}", headers=bearer(world.staff))
    assert resp.status_code == 200
    assert resp.data == photo and resp.mimetype == "image/png"
    assert resp.headers["Cache-Control"] == "private, no-store"

    # the cases as a sheet
    resp = client.get("/api/v1/admin/arrears/cases.xlsx", headers=bearer(world.admin))
    assert resp.status_code == 200
    rows = list(load_workbook(io.BytesIO(resp.data)).active.iter_rows(values_only=True))
    assert rows[0][:6] == ("案件编号", "工会组织", "用人单位", "统一社会信用代码", "案件状态", "群体性欠薪")
    assert rows[1][0] == case_id and rows[1][4] == "已解决" and rows[1][5] == "是"
    assert rows[1][6:9] == (3, 10, 29000.5) and rows[1][10] == 29000.5

    # every staff write was audit-logged
    actions = [a for (a,) in query(app, select(AuditLog.action).order_by(AuditLog.id))]
    assert actions.count("arrears.report.accept") == 3 and actions.count("arrears.case.transition") == 3
    assert "arrears.cases.export" in actions

    # a finished case frees the worker to report the employer again
    again = world.report(amy, employer_name="扬州宏达建筑集团有限公司")
    assert again.status_code == 201, again.get_json()


def test_a_declined_report_tells_the_worker_why(world, app, client, redis_client):
    amy = world.worker("amy")
    report = world.submitted(amy)
    resp = client.post(f"/api/v1/admin/arrears/reports/{report['id']}/decline", json={"reason": "  "},
                       headers=bearer(world.staff))
    assert resp.status_code == 422 and error_code(resp) == "validation_error"
    assert "reason" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post(f"/api/v1/admin/arrears/reports/{report['id']}/decline",
                       json={"reason": "该单位不在本区，请向邗江区总工会报工"}, headers=bearer(world.staff))
    assert resp.status_code == 200, resp.get_json()
    mine = world.mine(amy, report["id"])
    assert mine["status"] == "declined" and mine["decline_reason"] == "该单位不在本区，请向邗江区总工会报工"
    assert [e["kind"] for e in mine["timeline"]] == ["submitted", "declined"]
    assert world.accept(report["id"]).status_code == 409
    assert error_code(world.accept(report["id"])) == "invalid_state"
    assert send_messages(app).sent == 1
    (message,) = fake.sent_messages(redis_client)
    assert message["data"]["phrase2"] == {"value": "未受理"}
    assert message["template_id"] == app.config["NOTIFY_TEMPLATES"]["arrears_declined"]["template_id"]
    # declined is not open: the worker may report the employer again
    assert world.report(amy).status_code == 201


def test_a_report_joins_the_open_case_by_credit_code_whatever_its_name(world, client):
    amy, ben = world.worker("amy", "13800138001"), world.worker("ben", "13800138002")
    first = world.submitted(amy, employer_name="扬州宏达建筑集团", employer_credit_code="91110000600037341L")
    second = world.submitted(ben, employer_name="宏达建筑扬州分公司", employer_credit_code=" 9111 0000 6000 3734 1l ")
    assert second["employer_credit_code"] == "91110000600037341L"
    case_id = world.accepted(first["id"])["case_id"]
    assert world.accepted(second["id"])["case_id"] == case_id
    # another organization's report of the same employer is another case
    cai = world.worker("cai", "13800138003")
    third = world.submitted(cai, organization_id=world.other, employer_credit_code="91110000600037341L")
    resp = world.accept(third["id"], world.admin)
    assert resp.status_code == 200 and resp.get_json()["case_id"] != case_id


def test_pending_reports_of_one_employer_are_refused_until_the_case_finishes(world, client):
    amy = world.worker("amy")
    first = world.submitted(amy)
    for name in ("扬州宏达建筑集团有限公司", "扬州宏达建筑【集团】", "扬州 宏达 建筑 (集团)"):
        resp = world.report(amy, employer_name=name)
        assert resp.status_code == 409 and error_code(resp) == "report_pending", name
    assert world.report(amy, employer_name="扬州宏达物流有限公司").status_code == 201
    case_id = world.accepted(first["id"])["case_id"]
    resp = world.report(amy)
    assert resp.status_code == 409 and error_code(resp) == "report_pending"
    world.moved(case_id, to="closed", note="职工与单位已自行和解")
    assert world.mine(amy, first["id"])["status"] == "closed"
    assert world.report(amy).status_code == 201


def test_one_credit_code_is_one_employer_whatever_name_the_worker_writes(world, client):
    amy = world.worker("amy")
    world.submitted(amy, employer_name="扬州宏达建筑集团", employer_credit_code="91110000600037341L")
    resp = world.report(amy, employer_name="宏达建筑扬州分公司", employer_credit_code="9111 0000 6000 3734 1L")
    assert (resp.status_code, error_code(resp)) == (409, "report_pending")
    other = world.report(amy, employer_name="扬州宏达物流有限公司", employer_credit_code="91320100MA1MNKYK3F")
    assert other.status_code == 201, other.get_json()


def test_a_worker_without_a_bound_phone_cannot_report(world, client):
    anon = world.worker("anon", phone=None)
    resp = world.report(anon)
    assert resp.status_code == 409 and error_code(resp) == "phone_required"


def test_withdraw_rules(world, client):
    amy, ben = world.worker("amy", "13800138001"), world.worker("ben", "13800138002")
    report = world.submitted(amy)
    resp = client.post(f"/api/v1/arrears/reports/{report['id']}/withdraw", headers=bearer(ben))
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    resp = client.post(f"/api/v1/arrears/reports/{report['id']}/withdraw", headers=bearer(amy))
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"
    assert resp.get_json()["can_withdraw"] is False
    resp = client.post(f"/api/v1/arrears/reports/{report['id']}/withdraw", headers=bearer(amy))
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"
    resp = world.upload(amy, report["id"], png())
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"
    resp = world.accept(report["id"])
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"
    # withdrawn is not open; an accepted report cannot be withdrawn
    again = world.submitted(amy)
    world.accepted(again["id"])
    resp = client.post(f"/api/v1/arrears/reports/{again['id']}/withdraw", headers=bearer(amy))
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"
    resp = client.get(f"/api/v1/arrears/reports/{again['id']}", headers=bearer(ben))
    assert resp.status_code == 404 and error_code(resp) == "not_found"


def test_reports_are_rate_limited_per_worker_across_their_sessions(world, client):
    amy, ben = world.worker("amy", "13800138001"), world.worker("ben", "13800138002")
    for _ in range(10):
        resp = world.report(amy, amount_owed=0)
        assert resp.status_code == 422
    resp = world.report(login_worker(client, "amy"))  # signing in again does not reset the limit
    assert resp.status_code == 429 and error_code(resp) == "rate_limited"
    resp = world.report(amy)
    assert resp.status_code == 429 and error_code(resp) == "rate_limited"
    assert int(resp.headers["Retry-After"]) > 0
    assert world.report(ben).status_code == 201
