"""Bulk import of stations from spreadsheets: good rows land, bad rows are named, the index follows."""
from __future__ import annotations

import io
import json

from sqlalchemy import select

from tests.helpers import bearer, error_code, make_org, staff_token
from tests.stations.support import create, csv_upload, import_file, nearby, offset


def _audit(app, action="station.import"):
    from models import AuditLog, db
    with app.app_context():
        return db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def test_a_gbk_csv_with_one_bad_row_lands_the_others(app, client):
    admin = staff_token(app, client, "admin")
    a, b, c = offset(east_m=100), offset(east_m=600), offset(north_m=900)
    rows = [
        ["编码", "名称", "地址", "纬度", "经度", "电话", "设施", "开放时间"],
        ["YZ-GL-101", "文昌阁驿站", "广陵区文昌中路1号", a[0], a[1], "0514-87000001", "饮水、充电、卫生间", "24h"],
        ["YZ-GL-102", "东关街驿站", "广陵区东关街2号", "北纬三十二度", b[1], "", "饮水", "08:00-20:00"],
        ["YZ-GL-103", "何园驿站", "广陵区徐凝门街3号", b[0], b[1], "", "water|rest", "8:00-20:00"],
        ["YZ-GL-104", "三湾驿站", "广陵区三湾4号", c[0], c[1], "0514-87000004", "饮水，空调",
         json.dumps({"mon": ["22:00-06:00"], "sat": ["09:00-12:00"]})],
    ]
    resp = import_file(client, admin, csv_upload(rows, encoding="gbk"))
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert result["created"] == 3 and result["updated"] == 0 and result["warnings"] == []
    assert len(result["errors"]) == 1
    assert result["errors"][0]["row"] == 3
    assert result["errors"][0]["message"].startswith("第 3 行") and "纬度" in result["errors"][0]["message"]
    items = nearby(client, radius_m=2000).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in items] == [("文昌阁驿站", 100), ("何园驿站", 600), ("三湾驿站", 900)]
    assert items[0]["amenities"] == ["water", "charging", "toilet"]
    assert items[1]["amenities"] == ["water", "rest"] and items[1]["opening_hours"]["sun"] == ["08:00-20:00"]
    assert items[2]["opening_hours"]["mon"] == ["22:00-06:00"] and items[2]["opening_hours"]["tue"] == []
    audits = _audit(app)
    assert len(audits) == 1
    assert audits[0].details["created"] == 3 and audits[0].details["errors"] == 1


def test_an_xlsx_upserts_by_code_warns_outside_china_and_names_unknown_amenities(app, client):
    from openpyxl import Workbook

    admin = staff_token(app, client, "admin")
    existing = create(client, admin, "YZ-HJ-001", name="旧名字", closure={"from": "2026-01-01", "until": None})
    near, far = offset(east_m=300), offset(north_m=1200)
    wb = Workbook()
    ws = wb.active
    ws.append(["code", "name", "address", "lat", "lng", "phone", "amenities", "opening_hours"])
    ws.append(["YZ-HJ-001", "京华城驿站", "邗江区文昌西路", near[0], near[1], 51487000001, "water, charging", "24h"])
    ws.append(["YZ-HJ-002", "双桥驿站", "邗江区双桥路", far[0], far[1], None, "饮水|桑拿|按摩", "24h"])
    ws.append(["YZ-HJ-003", "海外驿站", "某地", 1.29, 103.85, None, "wifi", "24h"])
    ws.append(["YZ-HJ-004", "填反了的驿站", "某地", 119.4, 32.39, None, "wifi", "24h"])
    ws.append(["YZ-HJ-005", "夜间驿站", "邗江区某路", far[0], far[1], None, "热饭、雨具", "18:00-02:00"])
    ws.append([None, None, None, None, None, None, None, None])  # an empty row is skipped
    ws.append(["YZ-HJ-005", "重复", "邗江区某路", far[0], far[1], None, "", "24h"])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    resp = import_file(client, admin, (buf, "驿站.xlsx"))
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert result["created"] == 2 and result["updated"] == 1
    errors = {e["row"]: e["message"] for e in result["errors"]}
    assert set(errors) == {3, 5, 8}
    assert "桑拿" in errors[3] and "按摩" in errors[3]
    assert "纬度" in errors[5] and "填反" in errors[5]
    assert "重复" in errors[8] and "第 6 行" in errors[8]
    warnings = {w["row"]: w["message"] for w in result["warnings"]}
    assert set(warnings) == {4}
    assert "不在中国境内" in warnings[4]

    updated = client.get(f"/api/v1/stations/{existing['id']}").get_json()
    assert updated["name"] == "京华城驿站" and updated["phone"] == "51487000001"
    assert updated["amenities"] == ["water", "charging"] and updated["opening_hours"] == "24h"
    assert updated["closure"]["from"] == "2026-01-01"  # not a spreadsheet column: kept
    items = nearby(client).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in items] == [("京华城驿站", 300), ("夜间驿站", 1200)]
    assert items[0]["open_now"] is False  # the kept closure
    assert items[1]["amenities"] == ["hot_meal", "umbrella"]


def test_the_organization_of_imported_stations_and_scope(app, client):
    city = make_org(app, "扬州市总工会")
    gl = make_org(app, "广陵区总工会", city)
    hj = make_org(app, "邗江区总工会", city)
    admin = staff_token(app, client, "admin")
    manager = staff_token(app, client, "station_manager", gl)
    create(client, admin, "HJ-OWNED", organization_id=hj)
    p = offset(east_m=50)
    rows = [["编码", "名称", "地址", "纬度", "经度", "开放时间"],
            ["GL-NEW", "广陵新驿站", "广陵区", p[0], p[1], "24h"],
            ["HJ-OWNED", "想改别人的", "邗江区", p[0], p[1], "24h"]]
    result = import_file(client, manager, csv_upload(rows)).get_json()
    assert result["created"] == 1 and result["updated"] == 0
    assert result["errors"][0]["row"] == 3 and "管辖" in result["errors"][0]["message"]
    listed = client.get("/api/v1/admin/stations", headers=bearer(manager)).get_json()["items"]
    assert [(s["code"], s["organization_id"]) for s in listed] == [("GL-NEW", gl)]
    resp = import_file(client, manager, csv_upload(rows), organization_id=hj)
    assert resp.status_code == 422 and "organization_id" in resp.get_json()["error"]["details"]["fields"]
    result = import_file(client, admin, csv_upload(rows[:2]), organization_id=hj).get_json()
    assert result["updated"] == 1
    assert client.get("/api/v1/admin/stations", headers=bearer(manager)).get_json()["items"] == []


def test_unreadable_files_and_missing_columns_are_422(app, client):
    admin = staff_token(app, client, "admin")
    resp = import_file(client, admin, csv_upload([["编码", "名称", "纬度", "经度"], ["A", "b", 32, 119]]))
    assert resp.status_code == 422
    message = resp.get_json()["error"]["details"]["fields"]["file"][0]
    assert "地址" in message and "开放时间" in message
    resp = import_file(client, admin, (io.BytesIO(b"\x00\x01garbage"), "stations.pdf"))
    assert resp.status_code == 422
    resp = client.post("/api/v1/admin/stations/import", data={}, headers=bearer(admin),
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and error_code(resp) == "validation_error"
    assert _audit(app) == []


def test_a_few_thousand_rows_import_in_one_go(app, client):
    admin = staff_token(app, client, "admin")
    rows = [["code", "name", "address", "lat", "lng", "amenities", "opening_hours"]]
    for n in range(2000):
        lat, lng = offset(north_m=(n // 50) * 40, east_m=(n % 50) * 40)
        rows.append([f"BULK-{n:05d}", f"驿站{n}", "测试路", lat, lng, "water,charging", "06:00-22:00"])
    rows.append(["BULK-BAD", "坏行", "测试路", 32.1, "", "water", "24h"])
    result = import_file(client, admin, csv_upload(rows)).get_json()
    assert result["created"] == 2000 and [e["row"] for e in result["errors"]] == [2002]
    again = import_file(client, admin, csv_upload(rows)).get_json()
    assert again["created"] == 0 and again["updated"] == 2000
    items = nearby(client, limit=3).get_json()["items"]
    assert [i["distance_m"] for i in items] == [0, 40, 40]
    corner = offset(north_m=39 * 40, east_m=49 * 40)  # the last row imported is found at once
    assert [i["name"] for i in nearby(client, lat=corner[0], lng=corner[1], radius_m=10).get_json()["items"]] == [
        "驿站1999"]


def test_bulk_load_for_seeding_and_benchmarks(app, client):
    from service.stations import importer

    def records():
        for n in range(30):
            lat, lng = offset(east_m=100 * (n + 1))
            yield {"code": f"BL-{n}", "name": f"批量{n}", "address": "测试路", "lat": lat, "lng": lng,
                   "amenities": "饮水、充电" if n % 2 else ["water"], "opening_hours": "24h"}
        yield {"code": "BL-BAD", "name": "坏", "address": "测试路", "lat": 200, "lng": 119.4, "opening_hours": "24h"}

    with app.app_context():
        totals = importer.bulk_load(records(), chunk_size=7)
    assert totals == {"created": 30, "updated": 0, "errors": 1, "warnings": 0}
    items = nearby(client, amenities="charging", limit=3).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in items] == [("批量1", 200), ("批量3", 400), ("批量5", 600)]
