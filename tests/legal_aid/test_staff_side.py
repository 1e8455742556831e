"""Legal-aid staff handle bookings: outcomes, notes only they read, the day sheet; PIPL rights."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from service.common import clock
from tests.helpers import bearer, bind_phone, error_code, login_worker, make_org, staff_token
from tests.legal_aid.helpers import NOW, World, at, book

NOTES = "已告知可向劳动监察大队投诉，并协助准备仲裁申请材料"


@pytest.fixture
def world(app, client):
    clock.freeze(NOW)
    return World(app, client)


def test_complete_and_no_show(world, client):
    alice, bob, carol = (login_worker(client, n) for n in ("alice", "bob", "carol"))
    sid = world.slot(at(3, 10), capacity=3)
    a = book(client, alice, sid, topic="wage_arrears").get_json()["id"]
    b = book(client, bob, sid, topic="labor_contract").get_json()["id"]
    c = book(client, carol, sid, topic="other").get_json()["id"]
    client.post(f"/api/v1/legal-aid/bookings/{c}/cancel", headers=bearer(carol))
    staff = bearer(world.staff)

    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{a}/complete", json={"outcome": "won"}, headers=staff)
    assert resp.status_code == 422 and "outcome" in resp.get_json()["error"]["details"]["fields"]

    # nothing is recorded before the consultation's start, not even a minute before
    clock.freeze(at(3, 9, 59))
    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{a}/complete", json={"outcome": "advised"}, headers=staff)
    assert resp.status_code == 409 and error_code(resp) == "consultation_not_started"
    assert resp.get_json()["error"]["message"] == "咨询尚未开始，不能登记为已完成"
    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{b}/no-show", headers=staff)
    assert resp.status_code == 409 and error_code(resp) == "consultation_not_started"
    assert resp.get_json()["error"]["message"] == "咨询尚未开始，不能登记为未到场"
    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{c}/no-show", headers=staff)
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"  # cancelled: the state says no first
    assert {i["status"] for i in client.get("/api/v1/admin/legal-aid/bookings", headers=staff).get_json()["items"]} \
        == {"booked", "cancelled"}

    clock.freeze(at(3, 10, 40))
    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{a}/complete",
                       json={"outcome": "referred_to_legal_aid_case", "notes": NOTES}, headers=staff)
    assert resp.status_code == 200, resp.get_json()
    done = resp.get_json()
    assert done["status"] == "completed" and done["outcome"] == "referred_to_legal_aid_case"
    assert done["outcome_label"] == "转法律援助案件" and done["notes"] == NOTES
    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{a}/complete", json={"outcome": "advised"}, headers=staff)
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"
    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{b}/no-show", headers=staff)
    assert resp.status_code == 200 and resp.get_json()["status"] == "no_show"
    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{c}/complete", json={"outcome": "advised"}, headers=staff)
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"
    assert client.post("/api/v1/admin/legal-aid/bookings/999999/no-show", headers=staff).status_code == 404

    # the worker sees the outcome but not the notes
    mine = client.get("/api/v1/legal-aid/bookings/mine", headers=bearer(alice)).get_json()["items"][0]
    assert mine["status"] == "completed" and mine["outcome"] == "referred_to_legal_aid_case"
    assert "notes" not in mine and NOTES not in str(mine)

    listing = lambda **q: client.get("/api/v1/admin/legal-aid/bookings", query_string=q,  # noqa: E731
                                     headers=staff).get_json()
    assert listing()["total"] == 3
    assert [i["id"] for i in listing(status="completed")["items"]] == [a]
    assert [i["id"] for i in listing(topic="labor_contract")["items"]] == [b]
    assert listing(date_from="2026-03-04")["total"] == 0
    assert listing(date_from="2026-03-03", date_to="2026-03-03")["total"] == 3
    assert listing(provider_id=world.lawyer)["total"] == 3
    item = listing(status="completed")["items"][0]
    assert item["notes"] == NOTES and item["description"] == "老板拖欠三个月工资"
    assert item["slot"]["booked"] == 2


def test_notes_and_descriptions_are_for_legal_aid_staff_and_admins_of_the_organization(world, client, app):
    hanjiang = make_org(app, "邗江区总工会", world.city)
    station = world.provider(kind="volunteer_station", name="广陵区职工法律服务站", firm=None,
                             organization_id=world.district, address="广陵区文昌中路 1 号")
    sid = world.slot(at(3, 10), provider_id=station, location=None)
    bid = book(client, login_worker(client, "alice"), sid, description="工伤认定被拒").get_json()["id"]
    clock.freeze(at(3, 11))
    resp = client.post(f"/api/v1/admin/legal-aid/bookings/{bid}/complete",
                       json={"outcome": "mediation", "notes": NOTES}, headers=bearer(world.staff))
    assert resp.status_code == 200, resp.get_json()
    detail = f"/api/v1/admin/legal-aid/bookings/{bid}"

    # legal-aid staff of the district and admins of the district read everything
    for role in ("legal_aid_staff", "admin"):
        token = staff_token(app, client, role, world.district)
        body = client.get(detail, headers=bearer(token)).get_json()
        assert body["notes"] == NOTES and body["description"] == "工伤认定被拒"
        assert client.get("/api/v1/admin/legal-aid/bookings", headers=bearer(token)).get_json()["total"] == 1

    # a station manager of the very same organization: 403
    manager = staff_token(app, client, "station_manager", world.district)
    for path in (detail, "/api/v1/admin/legal-aid/bookings", f"/api/v1/admin/legal-aid/providers/{station}"
                 "/day-sheet.xlsx?date=2026-03-03"):
        resp = client.get(path, headers=bearer(manager))
        assert resp.status_code == 403 and error_code(resp) == "forbidden"
        assert NOTES not in resp.get_data(as_text=True)

    # another organization's legal-aid staff: 404, and nothing in their list
    other = staff_token(app, client, "legal_aid_staff", hanjiang)
    resp = client.get(detail, headers=bearer(other))
    assert resp.status_code == 404 and NOTES not in resp.get_data(as_text=True)
    assert client.get("/api/v1/admin/legal-aid/bookings", headers=bearer(other)).get_json()["total"] == 0
    resp = client.post(f"{detail}/no-show", headers=bearer(other))
    assert resp.status_code == 404
    resp = client.get(f"/api/v1/admin/legal-aid/providers/{station}/day-sheet.xlsx",
                      query_string={"date": "2026-03-03"}, headers=bearer(other))
    assert resp.status_code == 404
    resp = client.post(f"/api/v1/admin/legal-aid/slots/{sid}/cancel", json={"reason": "x"}, headers=bearer(other))
    assert resp.status_code == 404
    # and a worker gets 403 on the staff side
    resp = client.get(detail, headers=bearer(login_worker(client, "alice")))
    assert resp.status_code == 403


def test_day_sheet_opens_in_excel_with_chinese_headers_and_the_phones_to_call(world, client):
    alice, bob, carol = (login_worker(client, n) for n in ("alice", "bob", "carol"))
    bind_phone(client, bob, "13800138000")
    morning = world.slot(at(3, 10), capacity=3)
    world.slot(at(3, 14), mode="online", location=None)
    world.slot(at(4, 10))  # another day
    book(client, alice, morning, topic="wage_arrears", contact_phone="13912345678")
    book(client, bob, morning, topic="social_insurance", description="单位未缴社保")
    gone = book(client, carol, morning, topic="other").get_json()["id"]
    client.post(f"/api/v1/legal-aid/bookings/{gone}/cancel", headers=bearer(carol))

    resp = client.get(f"/api/v1/admin/legal-aid/providers/{world.lawyer}/day-sheet.xlsx",
                      query_string={"date": "2026-03-03"}, headers=bearer(world.staff))
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    ws = wb.worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0][:10] == ["时段", "咨询方式", "地点", "时段状态", "预约编号", "咨询事项", "问题描述", "职工姓名",
                            "联系电话", "预约状态"]
    body = rows[1:]
    assert len(body) == 3  # two bookings at 10:00 (the cancelled one left out), the empty 14:00 slot
    # the lawyer calls: the booking's contact phone, else the phone bound in the mini-program, in full
    assert body[0][0] == "10:00-11:00" and body[0][5] == "欠薪" and body[0][8] == "13912345678"
    assert body[1][5] == "社会保险" and body[1][6] == "单位未缴社保" and body[1][8] == "13800138000"
    assert body[0][7] is None and body[1][7] is None  # no name known for these workers
    assert body[2][0] == "14:00-15:00" and body[2][1] == "线上" and body[2][9] == "暂无预约"

    resp = client.get(f"/api/v1/admin/legal-aid/providers/{world.lawyer}/day-sheet.xlsx",
                      headers=bearer(world.staff))
    assert resp.status_code == 422
    resp = client.get("/api/v1/admin/legal-aid/providers/999999/day-sheet.xlsx",
                      query_string={"date": "2026-03-03"}, headers=bearer(world.staff))
    assert resp.status_code == 404


def test_a_worker_sees_and_erases_their_legal_aid_data(world, client, app):
    alice = login_worker(client, "alice")
    past = world.slot(at(2, 11))
    future = world.slot(at(5, 10), capacity=1)
    first = book(client, alice, past, topic="work_injury", description="工伤认定被拒",
                 contact_phone="13912345678").get_json()["id"]
    second = book(client, alice, future, topic="dismissal", description="被违法解除").get_json()["id"]
    clock.freeze(at(2, 11, 30))
    client.post(f"/api/v1/admin/legal-aid/bookings/{first}/complete", json={"outcome": "advised", "notes": NOTES},
                headers=bearer(world.staff))

    # What GET /me/data shows under "legal_aid".  Read through the registry: the shared
    # MyDataSchema currently dumps only "account" (reported to the lead).
    from service import worker_data as registry

    worker_id = client.get("/api/v1/me", headers=bearer(alice)).get_json()["id"]
    with app.app_context():
        data = registry.export_for(worker_id)["legal_aid"]
    assert {d["id"] for d in data} == {first, second}
    mine = {d["id"]: d for d in data}
    assert mine[first]["description"] == "工伤认定被拒" and mine[first]["contact_phone"] == "13912345678"
    assert mine[first]["provider"] == "王律师" and mine[second]["status"] == "booked"

    assert client.delete("/api/v1/me", headers=bearer(alice)).status_code == 204
    staff = bearer(world.staff)
    gone = client.get(f"/api/v1/admin/legal-aid/bookings/{first}", headers=staff).get_json()
    assert gone["description"] is None and gone["contact_phone"] is None and gone["notes"] is None
    assert gone["topic"] == "work_injury" and gone["status"] == "completed" and gone["outcome"] == "advised"
    cancelled = client.get(f"/api/v1/admin/legal-aid/bookings/{second}", headers=staff).get_json()
    assert cancelled["status"] == "cancelled" and cancelled["description"] is None
    assert cancelled["slot"]["booked"] == 0  # the seat went back
    counts = client.get("/api/v1/admin/legal-aid/bookings", query_string={"topic": "work_injury"},
                        headers=staff).get_json()
    assert counts["total"] == 1
