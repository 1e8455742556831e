"""Bulk import of stations from spreadsheets: good rows land, bad rows are named, the index follows;
messy clerks' files (title rows, GBK, blank rows, Chinese separators, swapped or zero coordinates),
the dry run that writes nothing, and the template that imports as it is."""
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
    assert result["created"] == 3 and result["updated"] == 0 and result["dry_run"] is False
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


def test_an_xlsx_upserts_by_code_refuses_outside_china_and_names_unknown_amenities(app, client):
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
    assert result["created"] == 1 and result["updated"] == 1
    errors = {e["row"]: e["message"] for e in result["errors"]}
    assert set(errors) == {3, 4, 5, 8}
    assert "桑拿" in errors[3] and "按摩" in errors[3]
    assert errors[4] == "第 4 行：坐标（纬度 1.29，经度 103.85）不在中国境内，请核对"
    assert "纬度" in errors[5] and "填反" in errors[5]
    assert "重复" in errors[8] and "第 6 行" in errors[8]
    assert [(r["row"], r["action"], r["key"]) for r in result["rows"]] == [(2, "updated", "YZ-HJ-001"),
                                                                          (6, "created", "YZ-HJ-005")]

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
    assert totals == {"created": 30, "updated": 0, "errors": 1}
    items = nearby(client, amenities="charging", limit=3).get_json()["items"]
    assert [(i["name"], i["distance_m"]) for i in items] == [("批量1", 200), ("批量3", 400), ("批量5", 600)]


def _xlsx(rows: list[list], title_rows: list[list] = (), merge: str | None = None) -> io.BytesIO:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for row in list(title_rows) + rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


def test_a_clerks_xlsx_with_title_rows_blank_rows_and_chinese_separators(app, client):
    admin = staff_token(app, client, "admin")
    a, b, c = offset(east_m=100), offset(east_m=200), offset(east_m=300)
    titles = [["扬州市户外劳动者驿站汇总表", None, None, None, None, None, None, None],
              ["填报单位：广陵区总工会", None, None, None, "填报日期：2026年3月", None, None, None],
              [None] * 8]
    rows = [
        ["编 码", "驿站名称", "详细地址", "纬度", "经度", "联系电话", "服务设施", "开放时段"],
        ["GL-1", "午休驿站", "广陵区一号", a[0], a[1], None, "饮水，充电", "08:00-11:30, 13:30-21:00"],
        ["GL-2", "全角驿站", "广陵区二号", b[0], b[1], None, "饮水", "８：００～１１：３０；１３：３０至２１：００"],
        [None] * 8,
        ["GL-3", "夜班驿站", "广陵区三号", c[0], c[1], None, "热饭", "22:00—次日06:00"],
        ["GL-4", "零点驿站", "广陵区四号", 0, 0, None, "饮水", "24h"],
        ["GL-5", "填反驿站", "广陵区五号", a[1], a[0], None, "饮水", "24h"],
        ["GL-6", "写错时间的驿站", "广陵区六号", a[0], a[1], None, "饮水", "8点-20点"],
        ["GL-7", "连写时间的驿站", "广陵区七号", a[0], a[1], None, "饮水", "08:00-12:00-14:00-18:00"],
        [None] * 8,
    ]
    resp = import_file(client, admin, (_xlsx(rows, titles, merge="A1:H1"), "驿站汇总.xlsx"))
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert (result["created"], result["updated"]) == (3, 0)
    assert [r["key"] for r in result["rows"]] == ["GL-1", "GL-2", "GL-3"]
    errors = {e["row"]: e["message"] for e in result["errors"]}
    assert errors == {
        9: "第 9 行：坐标（纬度 0，经度 0）不在中国境内，请核对",
        10: "第 10 行：纬度应在 -85.0511 到 85.0511 之间；"
            "纬度和经度可能填反了（纬度在前，约 3.8–53.6；经度约 73.5–135.1）",
        11: "第 11 行：开放时间：时间段“8点-20点”格式不正确，应为 HH:MM-HH:MM，多个时间段用逗号分隔，"
            "例如 08:00-11:30, 13:30-21:00",
        12: "第 12 行：开放时间：时间段“08:00-12:00-14:00-18:00”格式不正确，应为 HH:MM-HH:MM，多个时间段用逗号分隔，"
            "例如 08:00-11:30, 13:30-21:00",
    }
    hours = {i["name"]: i["opening_hours"] for i in nearby(client).get_json()["items"]}
    assert hours["午休驿站"]["wed"] == ["08:00-11:30", "13:30-21:00"]
    assert hours["全角驿站"]["sun"] == ["08:00-11:30", "13:30-21:00"]
    assert hours["夜班驿站"]["mon"] == ["22:00-06:00"]


def test_a_gbk_csv_with_a_title_row_and_blank_lines(app, client):
    admin = staff_token(app, client, "admin")
    p = offset(north_m=500)
    content = ("扬州市驿站名单（2026 年）\r\n"
               "\r\n"
               "编码,名称,地址,纬度,经度,开放时间,设施\r\n"
               f"GBK-1,汶河驿站,广陵区汶河路,{p[0]},{p[1]},\"07:00-11:30、13:30-21:00\",饮水、空调\r\n"
               ",,,,,,\r\n"
               f"GBK-2,双东驿站,广陵区东关街,{p[0]},{p[1]},24小时,饮水|充电\r\n").encode("gbk")
    resp = import_file(client, admin, (io.BytesIO(content), "名单.csv"))
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert (result["created"], result["errors"]) == (2, [])
    assert [r["row"] for r in result["rows"]] == [4, 6]
    items = {i["name"]: i for i in nearby(client).get_json()["items"]}
    assert items["汶河驿站"]["opening_hours"]["fri"] == ["07:00-11:30", "13:30-21:00"]
    assert items["汶河驿站"]["amenities"] == ["water", "air_conditioning"]
    assert items["双东驿站"]["opening_hours"] == "24h"


def _redis_state(redis_client) -> dict:
    return {key: redis_client.dump(key) for key in redis_client.scan_iter("stations:*")}


def test_a_dry_run_answers_as_the_import_would_and_writes_nothing(app, client, redis_client):
    from models import db
    from models.imports import Import
    from models.station import Station

    admin = staff_token(app, client, "admin")
    existing = create(client, admin, "DRY-1", name="旧名字")
    nearby(client)  # the index is built
    p = offset(east_m=800)
    rows = [["编码", "名称", "地址", "纬度", "经度", "开放时间"],
            ["DRY-1", "新名字", "广陵区", p[0], p[1], "24h"],
            ["DRY-2", "新驿站", "广陵区", p[0], p[1], "06:00-22:00"],
            ["DRY-3", "坏驿站", "广陵区", p[0], p[1], "整天"]]
    audits, index = len(_audit(app, "station.import")), _redis_state(redis_client)

    resp = client.post("/api/v1/admin/stations/import?dry_run=true", data={"file": csv_upload(rows)},
                       headers=bearer(admin), content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    preview = resp.get_json()
    assert preview["dry_run"] is True and preview["import_id"] is None
    assert (preview["created"], preview["updated"]) == (1, 1)
    assert [(r["row"], r["action"], r["key"], r["name"]) for r in preview["rows"]] == [
        (2, "updated", "DRY-1", "新名字"), (3, "created", "DRY-2", "新驿站")]
    assert [e["row"] for e in preview["errors"]] == [4] and "整天" in preview["errors"][0]["message"]

    with app.app_context():
        assert db.session.scalar(select(Station.name).where(Station.id == existing["id"])) == "旧名字"
        assert db.session.scalars(select(Station.code)).all() == ["DRY-1"]
        assert db.session.scalars(select(Import)).all() == []
    assert len(_audit(app, "station.import")) == audits
    assert _redis_state(redis_client) == index

    real = import_file(client, admin, csv_upload(rows)).get_json()
    assert real["dry_run"] is False and isinstance(real["import_id"], int)
    assert {k: v for k, v in real.items() if k not in ("dry_run", "import_id")} == \
        {k: v for k, v in preview.items() if k not in ("dry_run", "import_id")}
    assert client.get(f"/api/v1/stations/{existing['id']}").get_json()["name"] == "新名字"


def test_the_downloaded_template_imports_its_example_row(app, client):
    from openpyxl import load_workbook

    admin = staff_token(app, client, "station_manager", make_org(app, "扬州市总工会"))
    resp = client.get("/api/v1/admin/stations/import-template.xlsx", headers=bearer(admin))
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''%E9%A9%BF%E7%AB%99" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    sheet = wb.worksheets[0]
    assert [c.value for c in sheet[1]] == ["编码", "名称", "地址", "纬度", "经度", "电话", "设施", "开放时间"]
    assert sheet.max_row == 2 and sheet.freeze_panes == "A2"
    amenities = next(v for v in sheet.data_validations.dataValidation if str(v.sqref).startswith("G2"))
    assert amenities.type == "list" and "饮水,热饭,充电" in amenities.formula1
    assert amenities.showErrorMessage is False  # several amenities may be typed into one cell
    assert sheet.column_dimensions["C"].width > 20
    assert wb.sheetnames == ["驿站", "填写说明"]

    result = import_file(client, admin, (io.BytesIO(resp.data), "驿站导入模板.xlsx")).get_json()
    assert (result["created"], result["updated"], result["errors"]) == (1, 0, [])
    station = client.get("/api/v1/admin/stations", headers=bearer(admin)).get_json()["items"][0]
    assert station["opening_hours"]["mon"] == ["07:00-11:30", "13:30-21:00"]
    assert station["amenities"] == ["water", "charging", "toilet"]
