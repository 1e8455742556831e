"""The roster: import from the spreadsheets clerks really have, and the worker's claim."""
from __future__ import annotations

import io

from openpyxl import Workbook

from service.common.validators import check_digit
from tests.breakfast.helpers import add_to_roster, quick_staff_token, roster_csv, setup_city, upload
from tests.helpers import bearer, bind_phone, error_code, login_worker, make_org


def valid_id(region="321002", born="19700101", seq="123") -> str:
    first17 = region + born + seq
    return first17 + check_digit(first17)


def roster(client, token, **params):
    """The roster as a manager lists it; a search term goes in a POST body (it may be a phone)."""
    if "q" in params:
        return client.post("/api/v1/admin/breakfast/roster/search", json=params, headers=bearer(token)).get_json()
    return client.get("/api/v1/admin/breakfast/roster", query_string=params, headers=bearer(token)).get_json()


def test_gbk_csv_with_bad_rows_imports_the_good_ones(client, app):
    org, staff = setup_city(app, client)
    good_id = valid_id()
    bad_id = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    rows = [
        ("王建国", "13952710001", "扬州市环境卫生管理处", good_id),  # row 2
        ("李桂兰", "1395271000", "扬州市环境卫生管理处", ""),  # row 3: phone too short
        ("张德福", "13952710003", "扬州市环境卫生管理处", bad_id),  # row 4: check digit
        ("", "13952710004", "扬州市广陵区环境卫生管理所", ""),  # row 5: no name
        ("刘秀英", "139 5271 0005", "扬州市广陵区环境卫生管理所", ""),  # row 6: spaces are fine
        ("陈永强", "13952710001", "扬州市环境卫生管理处", ""),  # row 7: same phone as row 2
        ("杨玉珍", "13952710007", "", ""),  # row 8: no employer
    ]
    resp = upload(client, staff, roster_csv(rows, "gbk"))
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert (result["created"], result["updated"]) == (2, 0)
    assert [e["row"] for e in result["errors"]] == [3, 4, 5, 7, 8]
    messages = {e["row"]: e["message"] for e in result["errors"]}
    assert "手机号" in messages[3] and "校验位" in messages[4] and "姓名" in messages[5]
    assert "第 2 行" in messages[7] and "单位" in messages[8]

    listing = roster(client, staff)
    assert listing["total"] == 2
    first = listing["items"][0]
    assert first["name"] == "王建国" and first["phone"] == "139****0001"
    assert first["id_number"] == good_id[:3] + "*" * 11 + good_id[-4:]
    assert first["active"] is True and first["linked"] is False
    body = str(listing)
    assert "13952710001" not in body and good_id not in body
    assert roster(client, staff, q="13952710005")["items"][0]["name"] == "刘秀英"
    assert roster(client, staff, q="建国")["total"] == 1
    in_url = client.get("/api/v1/admin/breakfast/roster", query_string={"q": "13952710005"}, headers=bearer(staff))
    assert in_url.status_code == 422 and error_code(in_url) == "validation_error"
    assert "POST /api/v1/admin/breakfast/roster/search" in in_url.get_json()["error"]["details"]["fields"]["q"][0]
    by_name = client.get("/api/v1/admin/breakfast/roster", query_string={"q": "建国"}, headers=bearer(staff))
    assert by_name.status_code == 200 and by_name.get_json()["total"] == 1


def test_xlsx_upserts_by_phone_and_reports_bad_rows(client, app):
    org, staff = setup_city(app, client)
    add_to_roster(client, staff, "王建国", "13952710001", "旧单位")
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "手机号", "单位"])
    ws.append(["王建国", 13952710001, "扬州市环境卫生管理处"])  # a number cell, as Excel keeps phones
    ws.append(["赵长林", "not a phone", "扬州市环境卫生管理处"])
    ws.append(["周国平", "13952710008", "扬州市环境卫生管理处"])
    buf = io.BytesIO()
    wb.save(buf)
    resp = upload(client, staff, buf.getvalue(), "名册.xlsx")
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert (result["created"], result["updated"]) == (1, 1)
    assert result["errors"] == [{"row": 3, "message": "手机号应为 11 位中国大陆手机号"}]
    entry = roster(client, staff, q="13952710001")["items"][0]
    assert entry["employer"] == "扬州市环境卫生管理处"
    assert roster(client, staff)["total"] == 2

    # Deactivated, then imported again: active again.
    client.patch(f"/api/v1/admin/breakfast/roster/{entry['id']}", json={"active": False}, headers=bearer(staff))
    assert roster(client, staff, active="false")["total"] == 1
    add_to_roster(client, staff, "王建国", "13952710001")
    assert roster(client, staff, active="false")["total"] == 0

    admin = quick_staff_token(app, "admin", org)
    actions = [e["action"] for e in client.get("/api/v1/admin/audit-log", headers=bearer(admin)).get_json()["items"]]
    assert actions.count("breakfast.roster.import") == 3 and "breakfast.roster.update" in actions


def test_unusable_files_are_422(client, app):
    org, staff = setup_city(app, client)
    cases = [
        (b"name,employer\r\nx,y\r\n", "roster.csv"),  # no phone column
        (b"\x00\x01binary", "roster.pdf"),
        (b"PK\x03\x04 not really a zip", "roster.xlsx"),
    ]
    for content, filename in cases:
        resp = upload(client, staff, content, filename)
        assert resp.status_code == 422 and error_code(resp) == "validation_error", filename
        assert "file" in resp.get_json()["error"]["details"]["fields"]
    resp = client.post("/api/v1/admin/breakfast/roster/import", data={}, headers=bearer(staff),
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "file" in resp.get_json()["error"]["details"]["fields"]


def test_roster_is_scoped_by_organization(client, app):
    city = make_org(app, "扬州市总工会")
    district = make_org(app, "广陵区总工会", city)
    other = make_org(app, "邗江区总工会", city)
    city_staff = quick_staff_token(app, "breakfast_manager", city)
    district_staff = quick_staff_token(app, "breakfast_manager", district)
    other_staff = quick_staff_token(app, "breakfast_manager", other)

    add_to_roster(client, district_staff, "王建国", "13952710001")  # defaults to the district
    add_to_roster(client, other_staff, "徐志明", "13952720001")
    assert roster(client, city_staff)["total"] == 2
    assert [e["name"] for e in roster(client, district_staff)["items"]] == ["王建国"]
    # Another district's worker cannot be overwritten or moved by an import here, and the
    # refusal does not tell that the phone (or ID number) is on another district's roster.
    other_id = valid_id(seq="456")
    resp = upload(client, other_staff, roster_csv([("徐志明", "13952720001", "邗江环卫所", other_id)]))
    assert resp.status_code == 200
    resp = upload(client, district_staff, roster_csv([("冒名", "13952720001", "某单位", ""),
                                                      ("冒名二", "13952710777", "某单位", other_id)]))
    assert resp.get_json()["created"] == 0 and [e["row"] for e in resp.get_json()["errors"]] == [2, 3]
    messages = {e["message"] for e in resp.get_json()["errors"]}
    assert messages == {"此行无法导入：手机号或身份证号不可用，如有疑问请联系上级工会"}
    assert roster(client, other_staff)["items"][0]["name"] == "徐志明"
    # within the caller's own organizations the clerk is told what to do
    resp = upload(client, other_staff, roster_csv([("徐志明", "13952720002", "邗江环卫所", other_id)]))
    assert "已以其他手机号登记" in resp.get_json()["errors"][0]["message"]
    # Importing into an organization out of reach is refused.
    resp = upload(client, district_staff, roster_csv([("某人", "13952710009", "某单位", "")]), organization_id=other)
    assert resp.status_code == 422 and "organization_id" in resp.get_json()["error"]["details"]["fields"]
    entry_id = roster(client, other_staff)["items"][0]["id"]
    resp = client.patch(f"/api/v1/admin/breakfast/roster/{entry_id}", json={"active": False},
                        headers=bearer(district_staff))
    assert resp.status_code == 404
    # The city-wide manager must say which organization when it is ambiguous? No: the city is the top.
    add_to_roster(client, city_staff, "市直职工", "13952730001")
    assert roster(client, city_staff, organization_id=city)["total"] == 1


def test_claim_codes(client, app):
    org, staff = setup_city(app, client)
    add_to_roster(client, staff, "王建国", "13952710001", "扬州市环境卫生管理处")
    claim = "/api/v1/breakfast/eligibility/claim"

    alice = login_worker(client, "alice")
    resp = client.post(claim, headers=bearer(alice))
    assert resp.status_code == 409 and error_code(resp) == "phone_required"

    bind_phone(client, alice, "13900000000")
    resp = client.post(claim, headers=bearer(alice))
    assert resp.status_code == 404 and error_code(resp) == "not_on_roster"
    assert client.get("/api/v1/me", headers=bearer(alice)).get_json()["breakfast_eligible"] is False

    bind_phone(client, alice, "13952710001")
    resp = client.post(claim, headers=bearer(alice))
    assert resp.status_code == 200
    assert resp.get_json() == {"eligible": True, "employer": "扬州市环境卫生管理处"}
    assert client.post(claim, headers=bearer(alice)).status_code == 200  # again: harmless
    assert client.get("/api/v1/me", headers=bearer(alice)).get_json()["breakfast_eligible"] is True
    assert roster(client, staff)["items"][0]["linked"] is True

    bob = login_worker(client, "bob")  # another WeChat account with the same phone
    bind_phone(client, bob, "13952710001")
    resp = client.post(claim, headers=bearer(bob))
    assert resp.status_code == 409 and error_code(resp) == "roster_entry_taken"
    assert client.get("/api/v1/me", headers=bearer(bob)).get_json()["breakfast_eligible"] is False

    # A deactivated entry cannot be claimed.
    entry_id = roster(client, staff)["items"][0]["id"]
    client.patch(f"/api/v1/admin/breakfast/roster/{entry_id}", json={"active": False}, headers=bearer(staff))
    carol = login_worker(client, "carol")
    bind_phone(client, carol, "13952710001")
    assert error_code(client.post(claim, headers=bearer(carol))) == "not_on_roster"


def test_my_data_shows_the_roster_entry_unmasked(client, app):
    org, staff = setup_city(app, client)
    add_to_roster(client, staff, "王建国", "13952710001")
    token = login_worker(client, "alice")
    bind_phone(client, token, "13952710001")
    client.post("/api/v1/breakfast/eligibility/claim", headers=bearer(token))
    data = client.get("/api/v1/me/data", headers=bearer(token)).get_json()
    assert data["breakfast"]["roster"]["phone"] == "13952710001"
    assert data["breakfast"]["roster"]["name"] == "王建国"
    assert data["breakfast"]["checkins"] == []


def test_a_roster_over_one_megabyte_is_accepted(client, app):
    """Uploads may exceed the 1 MB JSON limit (UPLOAD_MAX_BYTES)."""
    org, staff = setup_city(app, client)
    note = "环卫" * 300
    lines = ["姓名,手机号,单位,备注"] + [f"职工{i},1395300{i:04d},扬州市环境卫生管理处,{note}" for i in range(600)]
    content = ("\n".join(lines)).encode("utf-8")
    assert len(content) > 1024 * 1024
    resp = upload(client, staff, content)
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert (result["created"], result["updated"], result["errors"]) == (600, 0, [])


def test_a_titled_gbk_roster_previews_with_a_dry_run_and_writes_nothing(client, app):
    from sqlalchemy import select

    from models import AuditLog, db
    from models.breakfast import RosterEntry
    from models.imports import Import

    org, staff = setup_city(app, client)
    add_to_roster(client, staff, "王建国", "13952710001", "旧单位")
    content = ("2026 年环卫工人爱心早餐名册\r\n"
               "填报单位：扬州市环境卫生管理处,,,\r\n"
               ",,,\r\n"
               "姓名,手机号,单位,身份证号\r\n"
               "王建国,13952710001,扬州市环境卫生管理处,\r\n"
               ",,,\r\n"
               "李桂兰,139 5271 0002,扬州市环境卫生管理处,\r\n"
               "张德福,1395271000,扬州市环境卫生管理处,\r\n").encode("gbk")
    with app.app_context():
        before = (db.session.scalars(select(RosterEntry.updated_at)).all(),
                  len(db.session.scalars(select(AuditLog)).all()), len(db.session.scalars(select(Import)).all()))

    resp = client.post("/api/v1/admin/breakfast/roster/import?dry_run=true",
                       data={"file": (io.BytesIO(content), "名册.csv")}, headers=bearer(staff),
                       content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    preview = resp.get_json()
    assert (preview["dry_run"], preview["import_id"], preview["created"], preview["updated"]) == (True, None, 1, 1)
    assert preview["rows"] == [{"row": 5, "action": "updated", "key": "139****0001", "name": "王建国"},
                               {"row": 7, "action": "created", "key": "139****0002", "name": "李桂兰"}]
    assert preview["errors"] == [{"row": 8, "message": "手机号应为 11 位中国大陆手机号"}]
    assert "13952710002" not in resp.get_data(as_text=True)
    with app.app_context():
        after = (db.session.scalars(select(RosterEntry.updated_at)).all(),
                 len(db.session.scalars(select(AuditLog)).all()), len(db.session.scalars(select(Import)).all()))
    assert after == before
    assert roster(client, staff, q="13952710001")["items"][0]["employer"] == "旧单位"

    real = upload(client, staff, content, "名册.csv").get_json()
    assert {k: v for k, v in real.items() if k not in ("dry_run", "import_id")} == \
        {k: v for k, v in preview.items() if k not in ("dry_run", "import_id")}
    assert roster(client, staff, q="13952710001")["items"][0]["employer"] == "扬州市环境卫生管理处"


def test_the_downloaded_roster_template_imports_its_example_row(client, app):
    from openpyxl import load_workbook

    org, staff = setup_city(app, client)
    resp = client.get("/api/v1/admin/breakfast/roster/import-template.xlsx", headers=bearer(staff))
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    assert [c.value for c in sheet[1]] == ["姓名", "手机号", "单位", "身份证号"]
    assert sheet.max_row == 2 and sheet.freeze_panes == "A2" and sheet.column_dimensions["C"].width > 15
    result = upload(client, staff, resp.data, "早餐名册导入模板.xlsx").get_json()
    assert (result["created"], result["updated"], result["errors"]) == (1, 0, [])
    assert roster(client, staff)["total"] == 1
