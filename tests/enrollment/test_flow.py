"""Joining the union as people do it: apply in the mini-program, a reviewer decides, the
worker sees the card and hears the outcome on WeChat."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from models import StaffRole, StaffUser, db
from service.common import clock
from tests.enrollment import apply, form, make_id, quick_staff
from tests.helpers import bearer, error_code, login_staff, login_worker, make_org, make_staff, outcome
from wechat import fake

APPS = "/api/v1/enrollment/applications"
QUEUE = "/api/v1/admin/enrollment/applications"


@pytest.fixture
def city(app):
    clock.freeze(clock.local(2026, 3, 2, 9, 30))
    root = make_org(app, "扬州市总工会")
    district = make_org(app, "广陵区总工会", root)
    other = make_org(app, "邗江区总工会", root)
    return {"root": root, "district": district, "other": other}


def approve(client, token, application_id):
    return client.post(f"{QUEUE}/{application_id}/approve", headers=bearer(token))


def reject(client, token, application_id, reason="材料不全"):
    return client.post(f"{QUEUE}/{application_id}/reject", json={"reason": reason}, headers=bearer(token))


def send_due(app):
    result = app.test_cli_runner().invoke(args=["notifications", "send-due"])
    assert result.exit_code == 0, result.output
    return result.output


def test_apply_approve_card_and_the_wechat_message(app, client, city, redis_client):
    worker = login_worker(client, "xiaoming")
    id_number = make_id("19900101", "male")
    resp = apply(client, worker, city["district"], id_number=id_number)
    assert resp.status_code == 201
    application = resp.get_json()
    assert application["status"] == "pending"
    assert application["organization"]["name"] == "广陵区总工会"
    assert id_number not in resp.get_data(as_text=True)

    card = client.get("/api/v1/enrollment/membership", headers=bearer(worker))
    assert card.status_code == 404 and error_code(card) == "not_a_member"

    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    queue = client.get(QUEUE, query_string={"status": "pending"}, headers=bearer(reviewer)).get_json()
    assert queue["total"] == 1 and queue["items"][0]["id"] == application["id"]
    assert queue["items"][0]["id_number"] == id_number[:3] + "*" * 11 + id_number[-4:]

    resp = approve(client, reviewer, application["id"])
    assert resp.status_code == 200, resp.get_json()
    approved = resp.get_json()
    assert approved["status"] == "approved"
    assert approved["member_no"] == f"{city['district']:04d}-2026-000001"
    assert approved["reviewed_at"].endswith("+08:00")

    card = client.get("/api/v1/enrollment/membership", headers=bearer(worker))
    assert card.status_code == 200
    assert card.get_json() == {
        "member_no": approved["member_no"], "name": "王小明", "organization": "广陵区总工会",
        "organization_id": city["district"], "occupation": "courier", "occupation_label": "快递员",
        "joined_at": "2026-03-02T09:30:00+08:00", "status": "active"}
    me = client.get("/api/v1/me", headers=bearer(worker)).get_json()
    assert me["membership"]["member_no"] == approved["member_no"]
    assert me["membership"]["organization"] == "广陵区总工会"

    assert fake.sent_messages(redis_client) == []  # queued, not sent by the request
    output = send_due(app)
    assert "sent=1" in output
    messages = fake.sent_messages(redis_client)
    assert len(messages) == 1
    message = messages[0]
    assert message["touser"] == "fake-xiaoming"
    assert message["template_id"] == app.config["NOTIFY_TEMPLATES"]["enrollment_approved"]["template_id"]
    assert message["data"]["phrase3"]["value"] == "已通过"
    assert message["data"]["thing2"]["value"] == "广陵区总工会"
    assert message["data"]["time4"]["value"] == "2026年03月02日 09:30"
    assert send_due(app).startswith("sent=0")
    assert len(fake.sent_messages(redis_client)) == 1

    audit = client.get("/api/v1/admin/audit-log", query_string={"action": "enrollment.approve"},
                       headers=bearer(quick_staff(app, client, "admin"))).get_json()
    assert audit["total"] == 1 and audit["items"][0]["target_id"] == str(application["id"])


def test_duplicates_are_409(app, client, city):
    alice = login_worker(client, "alice")
    id_number = make_id("19850505", "female")
    first = apply(client, alice, city["district"], id_number=id_number, gender="female")
    assert first.status_code == 201
    again = apply(client, alice, city["district"], id_number=make_id("19850506", "female"), gender="female")
    assert again.status_code == 409 and error_code(again) == "application_pending"

    bob = login_worker(client, "bob")
    same_id = apply(client, bob, city["other"], id_number=id_number, gender="female")
    assert same_id.status_code == 409 and error_code(same_id) == "application_pending"

    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    assert approve(client, reviewer, first.get_json()["id"]).status_code == 200
    member = apply(client, bob, city["other"], id_number=id_number, gender="female")
    assert member.status_code == 409 and error_code(member) == "already_member"
    member_again = apply(client, alice, city["other"], id_number=make_id("19850507", "female"), gender="female")
    assert member_again.status_code == 409 and error_code(member_again) == "already_member"
    twice = approve(client, reviewer, first.get_json()["id"])
    assert twice.status_code == 409 and error_code(twice) == "invalid_state"


def test_withdraw_then_apply_again(app, client, city):
    worker = login_worker(client, "carol")
    first = apply(client, worker, city["district"]).get_json()
    stranger = login_worker(client, "mallory")
    resp = client.post(f"{APPS}/{first['id']}/withdraw", headers=bearer(stranger))
    assert outcome(resp) == (404, "not_found")
    assert outcome(client.get(f"{APPS}/{first['id']}", headers=bearer(stranger))) == (404, "not_found")

    resp = client.post(f"{APPS}/{first['id']}/withdraw", headers=bearer(worker))
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"
    resp = client.post(f"{APPS}/{first['id']}/withdraw", headers=bearer(worker))
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"

    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    resp = approve(client, reviewer, first["id"])
    assert resp.status_code == 409 and error_code(resp) == "invalid_state"

    second = apply(client, worker, city["district"])
    assert second.status_code == 201
    mine = client.get(f"{APPS}/mine", headers=bearer(worker)).get_json()
    assert [a["status"] for a in mine["items"]] == ["pending", "withdrawn"]
    assert mine["total"] == 2


def test_reject_with_a_reason_then_apply_again(app, client, city, redis_client):
    worker = login_worker(client, "dave")
    application = apply(client, worker, city["district"]).get_json()
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["district"])

    blank = client.post(f"{QUEUE}/{application['id']}/reject", json={"reason": "  "}, headers=bearer(reviewer))
    assert outcome(blank) == (422, "validation_error") and "reason" in blank.get_json()["error"]["details"]["fields"]
    missing = client.post(f"{QUEUE}/{application['id']}/reject", json={}, headers=bearer(reviewer))
    assert outcome(missing) == (422, "validation_error")
    assert "reason" in missing.get_json()["error"]["details"]["fields"]

    reason = "工作单位与所填职业不符，请核实后重新提交申请材料，谢谢配合"
    resp = reject(client, reviewer, application["id"], reason)
    assert resp.status_code == 200 and resp.get_json()["status"] == "rejected"
    seen = client.get(f"{APPS}/{application['id']}", headers=bearer(worker)).get_json()
    assert seen["status"] == "rejected" and seen["reject_reason"] == reason
    assert "reviewed_by" not in seen or seen["reviewed_by"] is None

    send_due(app)
    message = fake.sent_messages(redis_client)[0]
    assert message["data"]["phrase3"]["value"] == "未通过"
    assert message["data"]["thing5"]["value"] == reason[:19] + "…"

    again = apply(client, worker, city["district"])
    assert again.status_code == 201
    statuses = [a["status"] for a in client.get(f"{APPS}/mine", headers=bearer(worker)).get_json()["items"]]
    assert statuses == ["pending", "rejected"]


def test_reviewer_of_another_organization_sees_nothing(app, client, city):
    worker = login_worker(client, "erin")
    application = apply(client, worker, city["district"]).get_json()
    outsider = quick_staff(app, client, "enrollment_reviewer", city["other"])

    assert outcome(client.get(f"{APPS}/{application['id']}", headers=bearer(outsider))) == (404, "not_found")
    resp = approve(client, outsider, application["id"])
    assert resp.status_code == 404 and error_code(resp) == "not_found"
    assert outcome(reject(client, outsider, application["id"])) == (404, "not_found")
    assert client.get(QUEUE, headers=bearer(outsider)).get_json()["total"] == 0
    batch = client.post(f"{QUEUE}/batch", json={"action": "approve", "ids": [application["id"]]},
                        headers=bearer(outsider)).get_json()
    assert batch["results"] == [{"id": application["id"], "ok": False, "code": "not_found",
                                 "message": "入会申请不存在"}]
    legal = quick_staff(app, client, "legal_aid_staff", city["root"])
    assert outcome(client.get(f"{APPS}/{application['id']}", headers=bearer(legal))) == (404, "not_found")
    assert outcome(client.get(QUEUE, headers=bearer(legal))) == (403, "forbidden")

    insider = quick_staff(app, client, "enrollment_reviewer", city["district"])
    seen = client.get(f"{APPS}/{application['id']}", headers=bearer(insider))
    assert seen.status_code == 200 and seen.get_json()["phone"] == "139****5678"
    assert client.get(QUEUE, headers=bearer(insider)).get_json()["total"] == 1


def test_batch_approve_reports_each_id(app, client, city):
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["district"])
    ids = []
    for n in range(3):
        token = login_worker(client, f"batch{n}")
        ids.append(apply(client, token, city["district"]).get_json()["id"])
    assert reject(client, reviewer, ids[1]).status_code == 200
    elsewhere = apply(client, login_worker(client, "batchx"), city["other"]).get_json()["id"]

    batch = [ids[0], ids[1], ids[2], elsewhere, 999999, ids[0]]
    resp = client.post(f"{QUEUE}/batch", json={"action": "approve", "ids": batch}, headers=bearer(reviewer))
    assert resp.status_code == 200
    body = resp.get_json()
    results = {r["id"]: r for r in body["results"]}
    assert [r["id"] for r in body["results"]] == [ids[0], ids[1], ids[2], elsewhere, 999999]
    assert results[ids[0]]["ok"] and results[ids[2]]["ok"]
    assert {results[ids[0]]["member_no"], results[ids[2]]["member_no"]} == {
        f"{city['district']:04d}-2026-000001", f"{city['district']:04d}-2026-000002"}
    assert results[ids[1]]["code"] == "invalid_state"
    assert results[elsewhere]["code"] == "not_found" and results[999999]["code"] == "not_found"
    assert body["succeeded"] == 2 and body["failed"] == 3

    too_many = client.post(f"{QUEUE}/batch", json={"action": "approve", "ids": list(range(1, 102))},
                           headers=bearer(reviewer))
    assert outcome(too_many) == (422, "validation_error") and "ids" in too_many.get_json()["error"]["details"]["fields"]
    no_reason = client.post(f"{QUEUE}/batch", json={"action": "reject", "ids": [ids[0]]}, headers=bearer(reviewer))
    assert outcome(no_reason) == (422, "validation_error")
    assert "reason" in no_reason.get_json()["error"]["details"]["fields"]

    admin = quick_staff(app, client, "admin")
    log = client.get("/api/v1/admin/audit-log", query_string={"action": "enrollment."},
                     headers=bearer(admin)).get_json()
    assert sorted(e["action"] for e in log["items"]) == ["enrollment.approve", "enrollment.approve",
                                                         "enrollment.reject"]


def test_queue_filters_and_pages(app, client, city):
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    people = [("张三", "courier", city["district"]), ("李四", "food_delivery", city["district"]),
              ("张小五", "ride_hailing", city["other"]), ("赵六%", "courier", city["other"])]
    ids = []
    for n, (name, occupation, org) in enumerate(people):
        clock.advance(hours=1)
        token = login_worker(client, f"q{n}")
        resp = apply(client, token, org, name=name.replace("%", ""), occupation=occupation,
                     phone=f"1391234560{n}")
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["id"])

    def query(**params):
        resp = client.get(QUEUE, query_string=params, headers=bearer(reviewer))
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    assert [a["id"] for a in query(status="pending")["items"]] == ids  # a queue: oldest first
    assert [a["id"] for a in query()["items"]] == ids[::-1]
    assert query(organization_id=city["district"])["total"] == 2
    assert query(organization_id=city["root"])["total"] == 4
    assert query(occupation="courier")["total"] == 2
    assert [a["name"] for a in query(q="张")["items"]] == ["张小五", "张三"]
    assert query(q="%")["total"] == 0
    # a phone or ID number is searched for in the body, never in the URL
    by_phone = client.post(QUEUE + "/search", json={"q": "13912345602"}, headers=bearer(reviewer))
    assert by_phone.status_code == 200 and [a["id"] for a in by_phone.get_json()["items"]] == [ids[2]]
    in_url = client.get(QUEUE, query_string={"q": "13912345602"}, headers=bearer(reviewer))
    assert in_url.status_code == 422 and "POST /api/v1/admin/enrollment/applications/search" in \
        in_url.get_json()["error"]["details"]["fields"]["q"][0]
    searched = client.post(QUEUE + "/search", json={"status": "pending", "occupation": "courier", "per_page": 1,
                                                    "page": 2}, headers=bearer(reviewer)).get_json()
    assert searched["total"] == 2 and [a["id"] for a in searched["items"]] == [ids[3]]
    assert query(submitted_from="2026-03-02T11:00:00", submitted_to="2026-03-02T12:30:00")["total"] == 2
    assert query(submitted_from="2026-03-02", submitted_to="2026-03-02")["total"] == 4
    assert query(submitted_from="2026-03-03")["total"] == 0
    page = query(per_page=3, page=2)
    assert page["total"] == 4 and len(page["items"]) == 1 and page["page"] == 2
    bad = client.get(QUEUE, query_string={"status": "nope", "per_page": 500}, headers=bearer(reviewer))
    assert outcome(bad) == (422, "validation_error")
    assert set(bad.get_json()["error"]["details"]["fields"]) == {"status", "per_page"}


def test_members_export(app, client, city):
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    id_numbers = []
    for n in range(2):
        token = login_worker(client, f"x{n}")
        id_number = make_id("19880808", "male")
        id_numbers.append(id_number)
        application = apply(client, token, city["district"], id_number=id_number, name="会员" + "甲乙"[n]).get_json()
        assert approve(client, reviewer, application["id"]).status_code == 200
    apply(client, login_worker(client, "x-pending"), city["district"])  # not a member yet

    resp = client.get("/api/v1/admin/enrollment/members.xlsx", headers=bearer(reviewer))
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(resp.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("会员编号", "姓名", "性别", "身份证号", "手机号")
    assert len(rows) == 3
    assert [r[3] for r in rows[1:]] == [i[:3] + "*" * 11 + i[-4:] for i in id_numbers]
    assert rows[1][4] == "139****5678" and rows[1][5] == "快递员" and rows[1][8] == "广陵区总工会"

    denied = client.get("/api/v1/admin/enrollment/members.xlsx", query_string={"full": 1}, headers=bearer(reviewer))
    assert outcome(denied) == (403, "forbidden")

    admin = quick_staff(app, client, "admin", city["root"])
    full = client.get("/api/v1/admin/enrollment/members.xlsx", query_string={"full": 1, "q": "会员乙"},
                      headers=bearer(admin))
    assert full.status_code == 200
    rows = list(load_workbook(io.BytesIO(full.data)).active.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][3] == id_numbers[1] and rows[1][4] == "13912345678"
    other_org = client.get("/api/v1/admin/enrollment/members.xlsx", query_string={"organization_id": city["other"]},
                           headers=bearer(admin))
    assert len(list(load_workbook(io.BytesIO(other_org.data)).active.iter_rows())) == 1

    log = client.get("/api/v1/admin/audit-log", query_string={"action": "enrollment.export_full"},
                     headers=bearer(admin)).get_json()
    assert log["total"] == 1
    assert log["items"][0]["details"]["full"] is True and log["items"][0]["details"]["rows"] == 1


def test_full_export_unmasks_only_where_the_caller_is_admin(app, client, city):
    """A district admin who also reviews for the whole city gets the district's members
    whole and every other district's masked, in one sheet; the audit row counts them."""
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    members = {}
    for n, org in enumerate((city["district"], city["other"])):
        id_number = make_id("19880808", "female")
        resp = apply(client, login_worker(client, f"scoped{n}"), org, id_number=id_number, gender="female",
                     phone=f"1391234000{n}", name="会员" + "甲乙"[n])
        assert approve(client, reviewer, resp.get_json()["id"]).status_code == 200
        members["会员" + "甲乙"[n]] = (id_number, f"1391234000{n}")
    make_staff(app, "two_hats", "enrollment_reviewer", city["root"])
    with app.app_context():
        staff = db.session.query(StaffUser).filter_by(username="two_hats").one()
        staff.roles.append(StaffRole(role="admin", organization_id=city["district"]))
        db.session.commit()
    token = login_staff(client, "two_hats")

    resp = client.post("/api/v1/admin/enrollment/members.xlsx", json={"full": True}, headers=bearer(token))
    assert resp.status_code == 200
    rows = {r[1]: r for r in load_workbook(io.BytesIO(resp.data)).active.iter_rows(min_row=2, values_only=True)}
    district_id, district_phone = members["会员甲"]
    other_id, other_phone = members["会员乙"]
    assert (rows["会员甲"][3], rows["会员甲"][4]) == (district_id, district_phone)
    assert (rows["会员乙"][3], rows["会员乙"][4]) == (other_id[:3] + "*" * 11 + other_id[-4:], "139****0001")
    same = client.get("/api/v1/admin/enrollment/members.xlsx", query_string={"full": 1}, headers=bearer(token))
    assert other_id not in str([r for r in load_workbook(io.BytesIO(same.data)).active.iter_rows(values_only=True)])

    admin = quick_staff(app, client, "admin", city["root"])
    log = client.get("/api/v1/admin/audit-log", query_string={"action": "enrollment.export_full"},
                     headers=bearer(admin)).get_json()
    assert [(e["details"]["rows"], e["details"]["unmasked_rows"]) for e in log["items"]] == [(2, 1), (2, 1)]


def test_the_database_holds_no_plaintext_id_or_phone(app, client, city):
    worker = login_worker(client, "secret")
    id_number = make_id("19791212", "female")
    resp = apply(client, worker, city["district"], id_number=id_number, gender="female", phone="13687654321")
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    approve(client, reviewer, resp.get_json()["id"])
    from models import db
    with app.app_context():
        dumped = []
        for table in ("enrollment_applications", "memberships", "notifications", "audit_log"):
            dumped += [repr(tuple(row)) for row in db.session.execute(text(f"SELECT * FROM {table}"))]
        stored = db.session.execute(text(
            "SELECT id_number_enc, id_number_hash, pii_key_version FROM enrollment_applications")).one()
    blob = "\n".join(dumped)
    assert id_number not in blob and id_number[6:14] + id_number[14:] not in blob
    assert "13687654321" not in blob
    assert stored[0].startswith("v1:") and stored[1].startswith("v1:") and stored[2] == 1


def test_my_data_erasure_and_the_counts(app, client, city, redis_client):
    worker = login_worker(client, "frank")
    id_number = make_id("19930303", "male")
    application = apply(client, worker, city["district"], id_number=id_number).get_json()
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    member_no = approve(client, reviewer, application["id"]).get_json()["member_no"]

    from models import Worker, db
    from service.worker_data import worker_data
    with app.app_context():
        me = client.get("/api/v1/me", headers=bearer(worker)).get_json()
        data = worker_data(db.session.get(Worker, me["id"]))["enrollment"]
    assert data["applications"][0]["id_number"] == id_number
    assert data["applications"][0]["phone"] == "13912345678"
    assert data["memberships"][0]["member_no"] == member_no
    raw = client.get("/api/v1/me/data", headers=bearer(worker))
    assert raw.status_code == 200

    assert client.delete("/api/v1/me", headers=bearer(worker)).status_code == 204
    send_due(app)
    assert fake.sent_messages(redis_client) == []  # the erased worker is not messaged
    with app.app_context():
        row = db.session.execute(text(
            "SELECT name, id_number_enc, id_number_hash, phone_enc, employer, status, occupation, organization_id "
            "FROM enrollment_applications")).one()
        member = db.session.execute(text(
            "SELECT name, id_number_hash, member_no, occupation, organization_id, status FROM memberships")).one()
        note = db.session.execute(text("SELECT status FROM notifications")).scalar_one()
    assert row[:5] == ("已注销用户", None, None, None, None)
    assert row[5:] == ("approved", "courier", city["district"])
    assert member == ("已注销用户", None, member_no, "courier", city["district"], "active")
    assert note == "cancelled"

    queue = client.get(QUEUE, headers=bearer(reviewer)).get_json()
    assert queue["total"] == 1 and queue["items"][0]["id_number"] is None
    # the same person may join again; the old number is never reused
    newcomer = login_worker(client, "frank2")
    again = apply(client, newcomer, city["district"], id_number=id_number).get_json()
    assert approve(client, reviewer, again["id"]).get_json()["member_no"] == f"{city['district']:04d}-2026-000002"


def test_member_numbers_run_per_organization_and_year(app, client, city):
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])

    def join(name, org):
        token = login_worker(client, name)
        application = apply(client, token, org).get_json()
        return approve(client, reviewer, application["id"]).get_json()["member_no"]

    d, o = city["district"], city["other"]
    assert join("n1", d) == f"{d:04d}-2026-000001"
    assert join("n2", o) == f"{o:04d}-2026-000001"
    assert join("n3", d) == f"{d:04d}-2026-000002"
    clock.freeze(clock.local(2027, 1, 1, 0, 5))
    assert join("n4", d) == f"{d:04d}-2027-000001"


def test_form_fields_unknown_to_the_contract_are_refused(app, client, city):
    token = login_worker(client, "mass")
    resp = client.post(APPS, json={**form(city["district"]), "status": "approved"}, headers=bearer(token))
    assert outcome(resp) == (422, "validation_error")
    assert "status" in resp.get_json()["error"]["details"]["fields"]


def test_erasing_a_pending_applicant_withdraws_the_application(app, client, city):
    worker = login_worker(client, "gone")
    id_number = make_id("19941010", "male")
    application = apply(client, worker, city["district"], id_number=id_number).get_json()
    assert client.delete("/api/v1/me", headers=bearer(worker)).status_code == 204
    reviewer = quick_staff(app, client, "enrollment_reviewer", city["root"])
    seen = client.get(f"{APPS}/{application['id']}", headers=bearer(reviewer)).get_json()
    assert seen["status"] == "withdrawn" and seen["name"] == "已注销用户"
    assert seen["id_number"] is None and seen["phone"] is None
    assert error_code(approve(client, reviewer, application["id"])) == "invalid_state"
    assert apply(client, login_worker(client, "newcomer"), city["district"], id_number=id_number).status_code == 201
